// Scrapes the Prometheus text endpoints each bundle names (spec.telemetry.targets) on the bundle's
// interval and turns two consecutive scrapes into its golden signals; forwarded series go as they are.
// A target that fails is left out of that interval (counted as a debug sample), never guessed.

import type { TelemetrySample } from '../../model/telemetry.ts';
import { type BundleScrape, deriveGoldenSignals, forwardedSamples } from './core/golden-signals.ts';
import { type PromSample, parsePrometheusText } from './core/prometheus-text.ts';
import type { Collected, TelemetryBundle, TelemetrySource } from './source.ts';

export interface PrometheusSourceOptions {
  /** per-request timeout (default 5 s) */
  timeoutMs?: number;
  /** largest exposition read (default 4 MiB); a bigger one fails the target */
  maxBytes?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** Looks every 5 s (the shortest interval a bundle may ask for) and scrapes each bundle when it is due. */
export class PrometheusSource implements TelemetrySource {
  readonly name = 'prometheus';
  readonly intervalMs = 5000;
  readonly #opts: PrometheusSourceOptions;
  /** bundle → the last scrape, for deltas; forgotten when the bundle's spec changes or it leaves */
  readonly #last = new Map<string, { spec: string; scrape: BundleScrape }>();

  constructor(opts: PrometheusSourceOptions = {}) {
    this.#opts = opts;
  }

  async collect(now: number, bundles: readonly TelemetryBundle[], signal: AbortSignal): Promise<Collected> {
    const samples: TelemetrySample[] = [];
    const present = new Set<string>();
    for (const b of bundles) {
      const spec = b.telemetry;
      if (!spec || spec.targets.length === 0) continue;
      present.add(b.bundle);
      const key = JSON.stringify(spec);
      let last = this.#last.get(b.bundle);
      if (last && last.spec !== key) last = undefined;
      if (last && now - last.scrape.at < spec.intervalSeconds * 1000 - this.intervalMs / 2) continue;
      const scrape: BundleScrape = { at: now, targets: new Map() };
      await Promise.all(
        spec.targets.map(async (url) => {
          const started = Date.now();
          try {
            scrape.targets.set(url, await this.#scrape(url, signal));
            samples.push(...scrapeHealth(b.bundle, url, now, 1, Date.now() - started));
          } catch (e) {
            samples.push(...scrapeHealth(b.bundle, url, now, 0, Date.now() - started));
            this.#opts.log?.('scrape failed', { bundle: b.bundle, url, error: (e as Error).message });
          }
        }),
      );
      samples.push(...deriveGoldenSignals(b.bundle, spec, last?.scrape, scrape));
      samples.push(...forwardedSamples(b.bundle, spec, scrape));
      this.#last.set(b.bundle, { spec: key, scrape });
    }
    for (const bundle of this.#last.keys()) if (!present.has(bundle)) this.#last.delete(bundle);
    return { samples, events: [] };
  }

  async #scrape(url: string, signal: AbortSignal): Promise<PromSample[]> {
    const res = await fetch(url, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.#opts.timeoutMs ?? 5000)]),
      headers: { accept: 'text/plain;version=0.0.4' },
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    if (Buffer.byteLength(text) > (this.#opts.maxBytes ?? 4 * 1024 * 1024))
      throw new Error('the exposition is larger than the limit');
    return parsePrometheusText(text).samples;
  }
}

/** Whether a scrape worked and how long it took: debug data, the first to go when space is short. */
function scrapeHealth(bundle: string, url: string, t: number, up: number, ms: number): TelemetrySample[] {
  const labels = { target: url.slice(0, 256) };
  return [
    { class: 'debug', name: 'outpost_scrape_up', bundle, labels, t, v: up },
    { class: 'debug', name: 'outpost_scrape_duration_seconds', bundle, labels, t, v: ms / 1000 },
  ];
}
