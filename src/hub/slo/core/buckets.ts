// Downsampling of SLI samples into fixed buckets, pure: counts (`*_total`) sum, gauges keep their maximum,
// and a bucket remembers how many samples fed it. The store keeps buckets, never raw samples, so its size
// depends on sites × bundles × time, not on how often agents sample.

import { sliNames, type TelemetrySample } from '../../../model/telemetry.ts';

/** Bucket length: fine enough for a 5-minute burn window and rollout gates, coarse enough for 100k sites. */
export const bucketMs = 300_000;

/** One site's SLIs for one bundle over one bucket; an absent field was not reported. */
export interface SliBucket {
  bundle: string;
  start: number;
  requests?: number;
  errors?: number;
  slow?: number;
  latencyMax?: number;
  saturationMax?: number;
  samples: number;
}

type Field = 'requests' | 'errors' | 'slow' | 'latencyMax' | 'saturationMax';

const fieldOf: Record<string, { field: Field; count: boolean }> = {
  [sliNames.requests]: { field: 'requests', count: true },
  [sliNames.errors]: { field: 'errors', count: true },
  [sliNames.slow]: { field: 'slow', count: true },
  [sliNames.latencyP99]: { field: 'latencyMax', count: false },
  [sliNames.saturation]: { field: 'saturationMax', count: false },
};
const countFields: readonly Field[] = ['requests', 'errors', 'slow'];
const gaugeFields: readonly Field[] = ['latencyMax', 'saturationMax'];

/**
 * The start of the bucket holding time `t` (Unix ms).
 *
 * @example
 * bucketStart(1_000_299_999); // 1_000_200_000
 */
export function bucketStart(t: number): number {
  return Math.floor(t / bucketMs) * bucketMs;
}

/**
 * Folds SLI samples into buckets by (bundle, bucket of `t`). Samples that are not SLIs, carry no bundle,
 * have a name outside `sliNames`, or a negative count are left out (raw metrics are only forwarded).
 *
 * @example
 * bucketize([
 *   { class: 'sli', name: 'requests_total', bundle: 'pos', t: 60_000, v: 100 },
 *   { class: 'sli', name: 'requests_total', bundle: 'pos', t: 120_000, v: 50 },
 *   { class: 'sli', name: 'latency_p99_seconds', bundle: 'pos', t: 120_000, v: 0.2 },
 * ]); // [{ bundle: 'pos', start: 0, requests: 150, latencyMax: 0.2, samples: 3 }]
 */
export function bucketize(samples: readonly TelemetrySample[]): SliBucket[] {
  const out = new Map<string, SliBucket>();
  for (const s of samples) {
    if (s.class !== 'sli' || s.bundle === undefined) continue;
    const f = fieldOf[s.name];
    if (!f || !Number.isFinite(s.v) || (f.count && s.v < 0)) continue;
    const start = bucketStart(s.t);
    const key = `${s.bundle}\u0000${start}`;
    let b = out.get(key);
    if (!b) {
      b = { bundle: s.bundle, start, samples: 0 };
      out.set(key, b);
    }
    b[f.field] = f.count ? (b[f.field] ?? 0) + s.v : Math.max(b[f.field] ?? s.v, s.v);
    b.samples++;
  }
  return [...out.values()];
}

/**
 * Two buckets of the same (site, bundle, start) as one: what the store's upsert does in SQL.
 *
 * @example
 * mergeBuckets({ bundle: 'a', start: 0, requests: 1, samples: 1 }, { bundle: 'a', start: 0, requests: 2, latencyMax: 1, samples: 2 });
 * // { bundle: 'a', start: 0, requests: 3, latencyMax: 1, samples: 3 }
 */
export function mergeBuckets(a: SliBucket, b: SliBucket): SliBucket {
  const out: SliBucket = { bundle: a.bundle, start: a.start, samples: a.samples + b.samples };
  for (const f of countFields) {
    if (a[f] !== undefined || b[f] !== undefined) out[f] = (a[f] ?? 0) + (b[f] ?? 0);
  }
  for (const f of gaugeFields) {
    if (a[f] !== undefined || b[f] !== undefined) out[f] = Math.max(a[f] ?? -Infinity, b[f] ?? -Infinity);
  }
  return out;
}

/** The metric names rollout gates can use, derived from a site's buckets. */
export const gateMetricNames = {
  errorRate: 'error_rate',
  slowRate: 'slow_rate',
  latencyP99: 'latency_p99_seconds',
  saturation: 'saturation',
} as const;

/**
 * A site's gate metrics over its buckets starting at or after `since` (so only samples taken on the
 * revision it runs count): error and slow rates over the summed counts, latency and saturation as the
 * maximum. A metric without data is absent, never 0; so are rates over zero requests.
 *
 * @example
 * gateMetrics([{ bundle: 'a', start: 600_000, requests: 200, errors: 10, samples: 2 }], 600_000);
 * // { error_rate: 0.05 }
 */
export function gateMetrics(buckets: readonly SliBucket[], since: number): Record<string, number> {
  let requests = 0;
  let errors: number | undefined;
  let slow: number | undefined;
  let latency: number | undefined;
  let saturation: number | undefined;
  for (const b of buckets) {
    if (b.start < since) continue;
    requests += b.requests ?? 0;
    if (b.errors !== undefined) errors = (errors ?? 0) + b.errors;
    if (b.slow !== undefined) slow = (slow ?? 0) + b.slow;
    if (b.latencyMax !== undefined) latency = Math.max(latency ?? b.latencyMax, b.latencyMax);
    if (b.saturationMax !== undefined) saturation = Math.max(saturation ?? b.saturationMax, b.saturationMax);
  }
  const out: Record<string, number> = {};
  if (requests > 0 && errors !== undefined) out[gateMetricNames.errorRate] = errors / requests;
  if (requests > 0 && slow !== undefined) out[gateMetricNames.slowRate] = slow / requests;
  if (latency !== undefined) out[gateMetricNames.latencyP99] = latency;
  if (saturation !== undefined) out[gateMetricNames.saturation] = saturation;
  return out;
}

export interface SliSeries {
  bundle: string;
  name: string;
  /** [bucket end, Unix ms; value] */
  points: [number, number][];
}

/**
 * A site's buckets as one series per (bundle, SLI name), oldest point first, stamped at the bucket's end.
 *
 * @example
 * sliSeries([{ bundle: 'a', start: 0, requests: 5, samples: 1 }]);
 * // [{ bundle: 'a', name: 'requests_total', points: [[300000, 5]] }]
 */
export function sliSeries(buckets: readonly SliBucket[]): SliSeries[] {
  const nameOf: Record<Field, string> = {
    requests: sliNames.requests,
    errors: sliNames.errors,
    slow: sliNames.slow,
    latencyMax: sliNames.latencyP99,
    saturationMax: sliNames.saturation,
  };
  const series = new Map<string, SliSeries>();
  for (const b of [...buckets].sort((x, y) => x.start - y.start)) {
    for (const f of [...countFields, ...gaugeFields]) {
      const v = b[f];
      if (v === undefined) continue;
      const key = `${b.bundle}\u0000${f}`;
      let s = series.get(key);
      if (!s) {
        s = { bundle: b.bundle, name: nameOf[f], points: [] };
        series.set(key, s);
      }
      s.points.push([b.start + bucketMs, v]);
    }
  }
  return [...series.values()].sort(
    (a, b) => a.bundle.localeCompare(b.bundle) || a.name.localeCompare(b.name),
  );
}
