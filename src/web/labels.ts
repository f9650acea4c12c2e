// Labels as an operator types them in the dashboard (`region=west, format=mini`) and back.

/**
 * @example parseLabelList('region=west, format=mini') // { region: 'west', format: 'mini' }
 * @example parseLabelList('region') // 'expected key=value, got "region"'
 */
export function parseLabelList(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `expected key=value, got "${part}"`;
    const key = part.slice(0, eq).trim();
    if (key in out) return `label ${key} is given twice`;
    out[key] = part.slice(eq + 1).trim();
  }
  return out;
}

export function labelList(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}
