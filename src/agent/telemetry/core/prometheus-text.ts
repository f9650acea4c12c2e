// Reads the Prometheus text exposition format (version 0.0.4), the way workloads expose /metrics: HELP
// and TYPE comments, samples with escaped label values, +Inf/-Inf/NaN, optional timestamps. Only what
// the agent needs for golden signals; a malformed line is an error naming its line number.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** the series name as written, e.g. `http_request_duration_seconds_bucket` */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromScrape {
  samples: PromSample[];
  /** metric family name → its declared type */
  types: Map<string, MetricType>;
}

export class PromParseError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`);
    this.name = 'PromParseError';
    this.line = line;
  }
}

const nameStart = /[a-zA-Z_:]/;
const nameChar = /[a-zA-Z0-9_:]/;
const labelStart = /[a-zA-Z_]/;
const labelChar = /[a-zA-Z0-9_]/;
const types = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: number): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new PromParseError(`"${text}" is not a number`, line);
  return v;
}

/**
 * @example parsePrometheusText('# TYPE up gauge\nup{job="a"} 1\n') // → { samples: [{ name: 'up', labels: { job: 'a' }, value: 1 }], … }
 */
export function parsePrometheusText(text: string): PromScrape {
  const samples: PromSample[] = [];
  const declared = new Map<string, MetricType>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s*TYPE\s+(\S+)\s+(\S+)\s*$/.exec(line);
      if (m) {
        if (!types.has(m[2]!)) throw new PromParseError(`unknown metric type "${m[2]}"`, n);
        declared.set(m[1]!, m[2] as MetricType);
      }
      continue; // HELP and other comments
    }
    let p = 0;
    const s = line.replace(/^\s+/, '');
    if (!nameStart.test(s[0] ?? '')) throw new PromParseError('a sample starts with a metric name', n);
    while (p < s.length && nameChar.test(s[p]!)) p++;
    const name = s.slice(0, p);
    const labels: Record<string, string> = {};
    if (s[p] === '{') {
      p++;
      for (;;) {
        while (s[p] === ' ') p++;
        if (s[p] === '}') {
          p++;
          break;
        }
        const start = p;
        if (!labelStart.test(s[p] ?? '')) throw new PromParseError('a label name was expected', n);
        while (p < s.length && labelChar.test(s[p]!)) p++;
        const label = s.slice(start, p);
        while (s[p] === ' ') p++;
        if (s[p] !== '=' || s[p + 1] !== '"') throw new PromParseError(`label ${label} needs ="value"`, n);
        p += 2;
        let value = '';
        for (;;) {
          const c = s[p];
          if (c === undefined) throw new PromParseError(`the value of label ${label} is not closed`, n);
          p++;
          if (c === '"') break;
          if (c === '\\') {
            const e = s[p++];
            value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : `\\${e ?? ''}`;
          } else value += c;
        }
        labels[label] = value;
        while (s[p] === ' ') p++;
        if (s[p] === ',') p++;
        else if (s[p] !== '}') throw new PromParseError('a "," or "}" was expected after a label', n);
      }
    }
    const rest = s.slice(p).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2 || rest[0] === '')
      throw new PromParseError('a sample is a name, optional labels, a value and an optional timestamp', n);
    samples.push({ name, labels, value: parseValue(rest[0]!, n) });
  }
  return { samples, types: declared };
}
