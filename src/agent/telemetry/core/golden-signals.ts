// Golden signals of one bundle from two consecutive scrapes of its endpoints: counters become deltas over
// the interval (a counter that went down was reset, so its new value is the delta), the p99 latency comes
// from histogram bucket deltas (interpolated within the bucket, as histogram_quantile does), slow
// requests are those above the threshold bucket, saturation is the fullest matching gauge.

import type { TelemetrySample } from '../../../model/telemetry.ts';
import { sliNames } from '../../../model/telemetry-names.ts';
import type { BundleTelemetry, SeriesSelector } from '../../../model/telemetry-spec.ts';
import type { PromSample } from './prometheus-text.ts';

/** One scrape of every target of a bundle: target URL → its samples (absent: that target failed). */
export interface BundleScrape {
  at: number;
  targets: Map<string, PromSample[]>;
}

type Matcher = (s: PromSample) => boolean;

function matcher(name: string, match: Record<string, string> | undefined): Matcher {
  const res = Object.entries(match ?? {}).map(([k, re]) => [k, new RegExp(`^(?:${re})$`)] as const);
  return (s) => s.name === name && res.every(([k, re]) => re.test(s.labels[k] ?? ''));
}

const seriesKey = (s: PromSample, without?: string) =>
  `${s.name}{${Object.keys(s.labels)
    .filter((k) => k !== without)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(',')}}`;

/**
 * Per group (the value of label `group`), the sum over targets of each matching series' increase. A target
 * not read last time (first scrape, or it failed) counts from the next interval: its history is unknown.
 */
function increases(
  prev: BundleScrape,
  cur: BundleScrape,
  m: Matcher,
  group?: string,
): Map<string, number> | undefined {
  const out = new Map<string, number>();
  let seen = false;
  for (const [target, samples] of cur.targets) {
    const before = prev.targets.get(target);
    if (!before) continue;
    const old = new Map(before.filter(m).map((s) => [seriesKey(s), s.value]));
    for (const s of samples) {
      if (!m(s)) continue;
      // a series the target did not have last time was born in this interval, from zero
      const was = old.get(seriesKey(s)) ?? 0;
      if (Number.isNaN(s.value) || Number.isNaN(was)) continue;
      seen = true;
      const delta = s.value >= was ? s.value - was : s.value;
      const key = group === undefined ? '' : (s.labels[group] ?? '');
      out.set(key, (out.get(key) ?? 0) + delta);
    }
  }
  return seen ? out : undefined;
}

function counterIncrease(prev: BundleScrape, cur: BundleScrape, sel: SeriesSelector): number | undefined {
  return increases(prev, cur, matcher(sel.metric, sel.match))?.get('');
}

const boundOf = (le: string) => (le === '+Inf' || le === 'Inf' ? Number.POSITIVE_INFINITY : Number(le));

/** histogram_quantile over cumulative bucket counts: linear within the bucket, the last finite bound for +Inf. */
export function bucketQuantile(
  q: number,
  buckets: ReadonlyArray<{ le: number; count: number }>,
): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (sorted.length < 2 || total <= 0 || sorted.at(-1)!.le !== Number.POSITIVE_INFINITY) return undefined;
  const rank = q * total;
  for (let i = 0; i < sorted.length; i++) {
    const b = sorted[i]!;
    if (b.count < rank) continue;
    if (b.le === Number.POSITIVE_INFINITY) return sorted[i - 1]!.le;
    const lower = i === 0 ? 0 : sorted[i - 1]!.le;
    const below = i === 0 ? 0 : sorted[i - 1]!.count;
    const inBucket = b.count - below;
    return inBucket <= 0 ? b.le : lower + (b.le - lower) * ((rank - below) / inBucket);
  }
  return sorted.at(-2)!.le;
}

/**
 * The SLI samples of one interval, from the scrape before it and the one ending it. The first scrape
 * gives gauges only: counters need two points.
 * @example deriveGoldenSignals('pos', spec, previous, current) // → [{ class: 'sli', name: 'requests_total', … }]
 */
export function deriveGoldenSignals(
  bundle: string,
  spec: BundleTelemetry,
  prev: BundleScrape | undefined,
  cur: BundleScrape,
): TelemetrySample[] {
  const out: TelemetrySample[] = [];
  const d = prev ? cur.at - prev.at : undefined;
  const sample = (name: string, v: number, interval?: number): TelemetrySample => {
    const s: TelemetrySample = { class: 'sli', name, bundle, t: cur.at, v };
    if (interval !== undefined) s.d = interval;
    return s;
  };
  const { requests, errors, latency, saturation } = spec.slis;
  if (prev && d !== undefined && d > 0) {
    const served = requests ? counterIncrease(prev, cur, requests) : undefined;
    if (served !== undefined) out.push(sample(sliNames.requests, served, d));
    if (errors) {
      const v = counterIncrease(prev, cur, errors);
      // no matching series while requests were counted means no error yet (a labelled counter appears
      // on the first 5xx)
      if (v !== undefined || served !== undefined) out.push(sample(sliNames.errors, v ?? 0, d));
    }
    if (latency) {
      const byLe = increases(prev, cur, matcher(`${latency.histogram}_bucket`, latency.match), 'le');
      if (byLe) {
        const buckets = [...byLe].map(([le, count]) => ({ le: boundOf(le), count }));
        const total = buckets.find((b) => b.le === Number.POSITIVE_INFINITY)?.count ?? 0;
        const p99 = bucketQuantile(0.99, buckets);
        if (p99 !== undefined) out.push(sample(sliNames.latencyP99, p99, d));
        const atThreshold = buckets
          .filter((b) => b.le <= latency.thresholdSeconds)
          .sort((a, b) => b.le - a.le)[0];
        out.push(sample(sliNames.slow, total - (atThreshold?.count ?? 0), d));
      }
    }
  }
  if (saturation) {
    const m = matcher(saturation.metric, saturation.match);
    let max: number | undefined;
    for (const samples of cur.targets.values())
      for (const s of samples) if (m(s) && !Number.isNaN(s.value)) max = Math.max(max ?? s.value, s.value);
    if (max !== undefined) out.push(sample(sliNames.saturation, max / saturation.max));
  }
  return out;
}

/** Raw series of the forwarded metric names, as `metric` samples labelled with their bundle. */
export function forwardedSamples(
  bundle: string,
  spec: BundleTelemetry,
  cur: BundleScrape,
): TelemetrySample[] {
  if (spec.forward.length === 0) return [];
  const names = new Set(spec.forward);
  const out: TelemetrySample[] = [];
  for (const samples of cur.targets.values())
    for (const s of samples) {
      if (!names.has(s.name) || !Number.isFinite(s.value)) continue;
      const labels = Object.fromEntries(
        Object.entries(s.labels).filter(([k, v]) => k.length <= 100 && v.length <= 256),
      );
      out.push({ class: 'metric', name: s.name, bundle, labels, t: cur.at, v: s.value });
    }
  return out;
}
