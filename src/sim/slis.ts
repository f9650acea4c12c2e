// The simulator's SLIs as the agent's telemetry sees them: a TelemetrySource over the pure, seeded
// generator in sli.ts, so a simulated store reports the golden signals of each bundle it runs, and a bad
// release (which the source is told about) shows as errors and latency. Never used at a real site.

import type { Collected, TelemetryBundle, TelemetrySource } from '../agent/telemetry/source.ts';
import type { TelemetrySample } from '../model/telemetry.ts';
import { type SliGenerator, sliSamples } from './sli.ts';

export interface SimulatedSliOptions extends Omit<SliGenerator, 'isBad'> {
  /** how often SLIs are made (default 30 s) */
  intervalMs?: number;
  /** whether the release of the bundle the site runs now is a bad one */
  isBad?: (bundle: TelemetryBundle) => boolean;
}

/**
 * @example new Agent({ …, telemetry: { sources: [simulatedSlis({ seed: 7, site: 'store-0001', isBad: (b) => b.digest === bad })], events: false } })
 */
export function simulatedSlis(opts: SimulatedSliOptions): TelemetrySource {
  const intervalMs = opts.intervalMs ?? 30_000;
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
        const bad = opts.isBad?.(b) ?? false;
        // the generator keys its noise and badness by revision; here the release is what the site runs
        samples.push(
          ...sliSamples(
            { ...opts, isBad: () => bad },
            { bundle: b.bundle, revision: 0, t: now, intervalMs: d },
          ),
        );
      }
      for (const bundle of last.keys()) if (!bundles.some((b) => b.bundle === bundle)) last.delete(bundle);
      return { samples, events: [] };
    },
  };
}
