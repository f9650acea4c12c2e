// WCAG 2 contrast between a text colour and its background, as browsers report colours
// (getComputedStyle's `rgb(…)` / `rgba(…)`), so a test can check every text on a rendered page.

export type Rgba = [r: number, g: number, b: number, a: number];

/** Parses `rgb(r, g, b)`, `rgba(r, g, b, a)` and the space-separated `rgb(r g b / a)`. */
export function parseColor(text: string): Rgba | undefined {
  const m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)$/.exec(
    text.trim(),
  );
  if (!m) return undefined;
  const alpha = m[4] === undefined ? 1 : m[4].endsWith('%') ? Number(m[4].slice(0, -1)) / 100 : Number(m[4]);
  return [Number(m[1]), Number(m[2]), Number(m[3]), alpha];
}

/** `top` painted over an opaque `bottom`. */
export function over(top: Rgba, bottom: Rgba): Rgba {
  const a = top[3];
  return [
    top[0] * a + bottom[0] * (1 - a),
    top[1] * a + bottom[1] * (1 - a),
    top[2] * a + bottom[2] * (1 - a),
    1,
  ];
}

function channel(c: number): number {
  const s = c / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

export function luminance([r, g, b]: Rgba): number {
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/**
 * @example contrastRatio([0, 0, 0, 1], [255, 255, 255, 1]) // 21
 */
export function contrastRatio(fg: Rgba, bg: Rgba): number {
  const solidFg = fg[3] < 1 ? over(fg, bg) : fg;
  const [hi, lo] = [luminance(solidFg), luminance(bg)].sort((a, b) => b - a) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}
