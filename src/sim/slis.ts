// Simulated golden signals for the fleet simulator: a TelemetrySource that makes up each bundle's SLIs
// from the seed, the site and the digest it runs, so a scenario can make one revision fail more often
// (a bad release) and watch SLOs and rollout gates react. Never used at a real site.

import { sli } from '../agent/telemetry/core/names.ts';
import type { Collected, TelemetryBundle, TelemetrySource } from '../agent/telemetry/source.ts';
import type { TelemetrySample } from '../model/telemetry.ts';
import { draw } from './random.ts';

export interface SimulatedSliOptions {
  seed: number;
  site: string;
  /** how often SLIs are made (default 30 s) */
  intervalMs?: number;
  /** requests per second each bundle serves (default 5) */
  requestsPerSecond?: number;
  /** the share of requests that fail for a bundle at a digest (default 0.001); a bad release says more */
  errorRate?: (bundle: string, digest: string | undefined) => number;
}

/**
 * @example new Agent({ …, telemetry: { sources: [simulatedSlis({ seed: 7, site: 'store-0001', errorRate: (b, d) => (d === bad ? 0.2 : 0.001) })], events: false } })
 */
export function simulatedSlis(opts: SimulatedSliOptions): TelemetrySource {
  const intervalMs = opts.intervalMs ?? 30_000;
  const rps = opts.requestsPerSecond ?? 5;
  const errorRate = opts.errorRate ?? (() => 0.001);
  const last = new Map<string, number>();
  return {
    name: 'simulated',
    intervalMs,
    async collect(now: number, bundles: readonly TelemetryBundle[]): Promise<Collected> {
      const samples: TelemetrySample[] = [];
      for (const b of bundles) {
        const d = now - (last.get(b.bundle) ?? now - intervalMs);
        last.set(b.bundle, now);
        if (d <= 0) continue;
        const r = (what: string) => draw(opts.seed, opts.site, b.bundle, now, what);
        const rate = Math.min(1, Math.max(0, errorRate(b.bundle, b.digest)));
        const requests = Math.round(((rps * d) / 1000) * (0.8 + 0.4 * r('requests')));
        const errors = Math.min(requests, Math.round(requests * rate * (0.5 + r('errors'))));
        const slow = Math.min(requests, Math.round(requests * (0.005 + rate / 2) * (0.5 + r('slow'))));
        const at = { bundle: b.bundle, t: now };
        samples.push(
          { class: 'sli', name: sli.requests, ...at, d, v: requests },
          { class: 'sli', name: sli.errors, ...at, d, v: errors },
          { class: 'sli', name: sli.slow, ...at, d, v: slow },
          {
            class: 'sli',
            name: sli.latencyP99,
            ...at,
            d,
            v: Number((0.15 + 2 * rate + 0.1 * r('p99')).toFixed(3)),
          },
          { class: 'sli', name: sli.saturation, ...at, v: Number((0.3 + 0.3 * r('saturation')).toFixed(3)) },
        );
      }
      for (const bundle of last.keys()) if (!bundles.some((b) => b.bundle === bundle)) last.delete(bundle);
      return { samples, events: [] };
    },
  };
}
