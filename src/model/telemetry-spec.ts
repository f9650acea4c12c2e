// What a bundle asks its sites' agents to collect (the Bundle's spec.telemetry): which Prometheus
// endpoints to scrape and how often, which series are the golden signals, which raw series to forward.
// Travels inside the rendered bundle, so a bundle without it keeps the digest it had.

/** Series of one metric, narrowed by label matchers; each value is an anchored regex, like PromQL `=~`. */
export interface SeriesSelector {
  metric: string;
  match?: Record<string, string>;
}

export interface LatencySelector {
  /** a histogram's base name (its series are `<name>_bucket`, `_sum`, `_count`) */
  histogram: string;
  match?: Record<string, string>;
  /** requests slower than this count as slow (default 0.5 s); a bucket bound at it makes the count exact */
  thresholdSeconds: number;
}

export interface SaturationSelector extends SeriesSelector {
  /** the value that means full; the signal is value / max (default 1: the gauge is already a ratio) */
  max: number;
}

export interface GoldenSignalSpec {
  /** a counter of requests served */
  requests?: SeriesSelector;
  /** the failed ones among them, e.g. the same counter with match {code: "5.."} */
  errors?: SeriesSelector;
  latency?: LatencySelector;
  /** a gauge; the highest matching series counts */
  saturation?: SaturationSelector;
}

export interface BundleTelemetry {
  /** seconds between scrapes, and the interval every SLI sample covers */
  intervalSeconds: number;
  /** explicit http(s) URLs of Prometheus text endpoints on the site */
  targets: string[];
  /**
   * also scrape the Running pods of the bundle's namespaces annotated `prometheus.io/scrape: "true"`, at
   * their pod IP, port `prometheus.io/port` and path `prometheus.io/path` (default /metrics)
   */
  annotatedPods: boolean;
  slis: GoldenSignalSpec;
  /** metric names forwarded as they are (class `metric`), for dashboards beyond the golden signals */
  forward: string[];
}

export interface TelemetrySpecProblem {
  /** path below spec.telemetry, e.g. "slis.errors.match.code" */
  path: string;
  message: string;
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const maxTargets = 20;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

type Result<T> = { value: T; problem?: undefined } | { problem: TelemetrySpecProblem };

function unknownField(v: Record<string, unknown>, known: readonly string[], at: string) {
  const extra = Object.keys(v).find((k) => !known.includes(k));
  return extra === undefined
    ? undefined
    : { path: at ? `${at}.${extra}` : extra, message: `unknown field (known: ${known.join(', ')})` };
}

function selector(v: unknown, at: string, extra: readonly string[] = []): Result<SeriesSelector> {
  if (!isRecord(v)) return { problem: { path: at, message: 'is a mapping with metric and optional match' } };
  const known = ['metric', 'match', ...extra];
  const problem = unknownField(v, known, at);
  if (problem) return { problem };
  if (typeof v.metric !== 'string' || !metricName.test(v.metric))
    return { problem: { path: `${at}.metric`, message: 'is a Prometheus metric name' } };
  const out: SeriesSelector = { metric: v.metric };
  if (v.match !== undefined) {
    if (!isRecord(v.match))
      return { problem: { path: `${at}.match`, message: 'maps label names to regexes' } };
    for (const [k, re] of Object.entries(v.match)) {
      if (!labelName.test(k))
        return { problem: { path: `${at}.match.${k}`, message: 'is not a label name' } };
      if (typeof re !== 'string')
        return { problem: { path: `${at}.match.${k}`, message: 'is a regex (a string)' } };
      try {
        new RegExp(`^(?:${re})$`);
      } catch (e) {
        return {
          problem: { path: `${at}.match.${k}`, message: `is not a valid regex: ${(e as Error).message}` },
        };
      }
    }
    out.match = v.match as Record<string, string>;
  }
  return { value: out };
}

/**
 * Validates spec.telemetry and fills in defaults; `undefined` means the bundle collects nothing.
 * @example parseTelemetrySpec({ targets: ['http://127.0.0.1:9100/metrics'], slis: { requests: { metric: 'http_requests_total' } } })
 */
export function parseTelemetrySpec(value: unknown): Result<BundleTelemetry | undefined> {
  if (value === undefined || value === null) return { value: undefined };
  if (!isRecord(value))
    return { problem: { path: '', message: 'is a mapping (intervalSeconds, targets, slis, forward)' } };
  const problem = unknownField(value, ['intervalSeconds', 'targets', 'annotatedPods', 'slis', 'forward'], '');
  if (problem) return { problem };
  const interval = value.intervalSeconds ?? 30;
  if (!Number.isInteger(interval) || (interval as number) < 5 || (interval as number) > 3600)
    return { problem: { path: 'intervalSeconds', message: 'is a whole number of seconds from 5 to 3600' } };
  const targets = value.targets ?? [];
  if (!Array.isArray(targets) || targets.length > maxTargets)
    return { problem: { path: 'targets', message: `is a list of at most ${maxTargets} URLs` } };
  for (const [i, t] of targets.entries()) {
    let url: URL | undefined;
    try {
      url = typeof t === 'string' ? new URL(t) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
      return {
        problem: { path: `targets.${i}`, message: 'is an http(s) URL of a Prometheus text endpoint' },
      };
  }
  const slisIn = value.slis ?? {};
  if (!isRecord(slisIn))
    return { problem: { path: 'slis', message: 'is a mapping (requests, errors, latency, saturation)' } };
  const slisProblem = unknownField(slisIn, ['requests', 'errors', 'latency', 'saturation'], 'slis');
  if (slisProblem) return { problem: slisProblem };
  const slis: GoldenSignalSpec = {};
  for (const key of ['requests', 'errors'] as const) {
    if (slisIn[key] === undefined) continue;
    const r = selector(slisIn[key], `slis.${key}`);
    if (r.problem) return r;
    slis[key] = r.value;
  }
  if (slisIn.latency !== undefined) {
    const l = slisIn.latency;
    if (!isRecord(l)) return { problem: { path: 'slis.latency', message: 'is a mapping with histogram' } };
    const extra = unknownField(l, ['histogram', 'match', 'thresholdSeconds'], 'slis.latency');
    if (extra) return { problem: extra };
    const r = selector({ metric: l.histogram, match: l.match }, 'slis.latency');
    if (r.problem)
      return {
        problem: {
          ...r.problem,
          path: r.problem.path.replace('slis.latency.metric', 'slis.latency.histogram'),
        },
      };
    const threshold = l.thresholdSeconds ?? 0.5;
    if (typeof threshold !== 'number' || !(threshold > 0))
      return {
        problem: { path: 'slis.latency.thresholdSeconds', message: 'is a positive number of seconds' },
      };
    slis.latency = { histogram: r.value.metric, thresholdSeconds: threshold };
    if (r.value.match) slis.latency.match = r.value.match;
  }
  if (slisIn.saturation !== undefined) {
    const r = selector(slisIn.saturation, 'slis.saturation', ['max']);
    if (r.problem) return r;
    const max = (slisIn.saturation as Record<string, unknown>).max ?? 1;
    if (typeof max !== 'number' || !(max > 0))
      return { problem: { path: 'slis.saturation.max', message: 'is a positive number' } };
    slis.saturation = { ...r.value, max };
  }
  const forward = value.forward ?? [];
  if (!Array.isArray(forward) || forward.some((f) => typeof f !== 'string' || !metricName.test(f)))
    return { problem: { path: 'forward', message: 'is a list of Prometheus metric names' } };
  const annotatedPods = value.annotatedPods ?? false;
  if (typeof annotatedPods !== 'boolean')
    return { problem: { path: 'annotatedPods', message: 'is true or false' } };
  if (Object.keys(slis).length > 0 && targets.length === 0 && !annotatedPods)
    return {
      problem: {
        path: 'targets',
        message: 'names no endpoint to read the SLIs from (nor is annotatedPods on)',
      },
    };
  return {
    value: {
      intervalSeconds: interval as number,
      targets: targets as string[],
      annotatedPods,
      slis,
      forward: forward as string[],
    },
  };
}
