// Numbers, times and ratios as the dashboard shows them. Every function takes `now` so the output is
// a pure function of its input.

const units: Array<[limitSeconds: number, divisor: number, unit: string]> = [
  [60, 1, 's'],
  [3600, 60, 'min'],
  [86_400, 3600, 'h'],
  [Number.POSITIVE_INFINITY, 86_400, 'd'],
];

/** A span of time in its largest whole unit: 45 s, 12 min, 3 h, 20 d. */
export function span(ms: number): string {
  const s = Math.abs(ms) / 1000;
  for (const [limit, div, unit] of units) {
    if (s < limit) return `${Math.floor(s / div)} ${unit}`;
  }
  return '';
}

/**
 * @example ago('2026-01-01T00:00:00Z', new Date('2026-01-01T00:05:00Z')) // '5 min ago'
 */
export function ago(iso: string | null | undefined, now: Date): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'unknown';
  const d = now.getTime() - t;
  return d >= 0 ? `${span(d)} ago` : `in ${span(d)}`;
}

export type Urgency = 'ok' | 'soon' | 'expired' | 'none';

/** A certificate's expiry, and whether it needs attention (within `soonDays`). */
export function expiry(
  iso: string | null | undefined,
  now: Date,
  soonDays = 7,
): { text: string; urgency: Urgency } {
  if (!iso) return { text: 'no certificate', urgency: 'none' };
  const left = Date.parse(iso) - now.getTime();
  if (left <= 0) return { text: `expired ${span(left)} ago`, urgency: 'expired' };
  return { text: `expires in ${span(left)}`, urgency: left < soonDays * 86_400_000 ? 'soon' : 'ok' };
}

/** 0.9993 → '99.93%'; null → '–' (no data is never shown as zero). */
export function percent(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${(x * 100).toFixed(digits)}%`;
}

/** 12345 → '12,345' regardless of the browser's locale, so tests can read it back. */
export function count(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Reads back what `count` wrote. */
export function parseCount(text: string): number {
  return Number(text.replace(/,/g, ''));
}

/** A burn rate: 1× spends the budget exactly over the window. */
export function burn(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'no data';
  return `${x < 10 ? x.toFixed(2) : x.toFixed(0)}×`;
}

/**
 * A gate's measured value at four significant digits, so a rate and a latency both read naturally; no
 * value is 'no data', never zero.
 *
 * @example gateValue(0.21) // '0.21'
 * @example gateValue(0.0123456) // '0.01235'
 * @example gateValue(undefined) // 'no data'
 */
export function gateValue(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'no data';
  return String(Number(x.toPrecision(4)));
}
