// Service-level indicators a simulated store's workloads would show, per site, bundle and interval:
// the golden signals of model/telemetry.ts. Pure and seeded (the same site, bundle, revision and time
// give the same samples), so a metric-gated rollout can be replayed; a bad release raises errors and
// latency. Meant to feed the agent's telemetry component in simulated sites.

import { sliNames, type TelemetrySample } from '../model/telemetry.ts';
import { draw } from './random.ts';

/** What a healthy workload of a bundle looks like at the busiest hour. */
export interface SliProfile {
  requestsPerSecond: number;
  /** share of requests that fail */
  errorRate: number;
  /** share of requests slower than the threshold */
  slowRate: number;
  latencyP99Seconds: number;
  /** 0..1 */
  saturation: number;
}

/** What a bad release does: it fails and slows down a share of requests and runs hotter. */
export interface BadReleaseEffect {
  errorRate: number;
  slowRate: number;
  latencyFactor: number;
  saturation: number;
}

export const healthyProfile: SliProfile = {
  requestsPerSecond: 5,
  errorRate: 0.002,
  slowRate: 0.01,
  latencyP99Seconds: 0.12,
  saturation: 0.45,
};

export const badReleaseEffect: BadReleaseEffect = {
  errorRate: 0.15,
  slowRate: 0.3,
  latencyFactor: 6,
  saturation: 0.9,
};

export interface SliGenerator {
  seed: number;
  site: string;
  /** the site's offset from UTC in hours: stores are busy by day and quiet at night, local time */
  utcOffsetHours?: number;
  /** per bundle; bundles not listed look like healthyProfile */
  profiles?: Readonly<Record<string, Partial<SliProfile>>>;
  /** which releases are bad; none by default */
  isBad?: (bundle: string, revision: number) => boolean;
  badEffect?: BadReleaseEffect;
}

export interface SliInterval {
  bundle: string;
  /** the revision running on the site during the interval */
  revision: number;
  /** end of the interval, Unix milliseconds */
  t: number;
  intervalMs: number;
}

/** Busy from opening to closing (about 8:00 to 22:00 local time), peaking early afternoon. */
export function trafficShare(t: number, utcOffsetHours = 0): number {
  const hour = (((t / 3_600_000 + utcOffsetHours) % 24) + 24) % 24;
  if (hour < 7 || hour >= 23) return 0.05;
  return 0.05 + 0.95 * Math.sin((Math.PI * (hour - 7)) / 16);
}

/**
 * The five SLI samples of one bundle on one site for the interval ending at `t`.
 *
 * @example
 * const gen = { seed: 7, site: 'store-0001', isBad: (b, r) => b === 'pos' && r === 3 };
 * sliSamples(gen, { bundle: 'pos', revision: 3, t: Date.now(), intervalMs: 60_000 });
 */
export function sliSamples(gen: SliGenerator, at: SliInterval): TelemetrySample[] {
  const base = { ...healthyProfile, ...gen.profiles?.[at.bundle] };
  const bad = gen.isBad?.(at.bundle, at.revision) ?? false;
  const effect = gen.badEffect ?? badReleaseEffect;
  const noise = (what: string, spread: number) =>
    1 + (draw(gen.seed, gen.site, at.bundle, at.revision, at.t, what) * 2 - 1) * spread;
  const share = trafficShare(at.t, gen.utcOffsetHours);
  const requests = Math.max(
    0,
    Math.round(base.requestsPerSecond * (at.intervalMs / 1000) * share * noise('requests', 0.2)),
  );
  const errorRate = Math.min(1, (bad ? effect.errorRate : base.errorRate) * noise('errors', 0.5));
  const slowRate = Math.min(1, (bad ? effect.slowRate : base.slowRate) * noise('slow', 0.5));
  const errors = Math.min(requests, Math.round(requests * errorRate));
  const slow = Math.min(requests, Math.round(requests * slowRate));
  const latency = base.latencyP99Seconds * (bad ? effect.latencyFactor : 1) * noise('latency', 0.25);
  const saturation = Math.min(
    1,
    Math.max(0, (bad ? effect.saturation : base.saturation * (0.4 + 0.6 * share)) * noise('saturation', 0.1)),
  );
  const sample = (name: string, v: number): TelemetrySample => ({
    class: 'sli',
    name,
    bundle: at.bundle,
    t: at.t,
    d: at.intervalMs,
    v,
  });
  return [
    sample(sliNames.requests, requests),
    sample(sliNames.errors, errors),
    sample(sliNames.slow, slow),
    sample(sliNames.latencyP99, Math.round(latency * 1e4) / 1e4),
    sample(sliNames.saturation, Math.round(saturation * 1e3) / 1e3),
  ];
}
