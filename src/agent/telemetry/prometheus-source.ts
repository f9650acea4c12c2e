// Scrapes the Prometheus text endpoints each bundle names (spec.telemetry.targets) on the bundle's
// interval and turns two consecutive scrapes into its golden signals; forwarded series go as they are.
// A target that fails is left out of that interval (counted as a debug sample), never guessed.

import http from 'node:http';
import https from 'node:https';
import type { KubeObject } from '../../model/manifest.ts';
import type { TelemetrySample } from '../../model/telemetry.ts';
import type { Cluster } from '../apply/cluster.ts';
import { type BundleScrape, deriveGoldenSignals, forwardedSamples } from './core/golden-signals.ts';
import { type PromSample, parsePrometheusText } from './core/prometheus-text.ts';
import type { Collected, TelemetryBundle, TelemetrySource } from './source.ts';

export interface PrometheusSourceOptions {
  /** where pods are listed for bundles with annotatedPods on */
  cluster?: Cluster;
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
    let pods: Promise<KubeObject[]> | undefined;
    for (const b of bundles) {
      const spec = b.telemetry;
      if (!spec || (spec.targets.length === 0 && !spec.annotatedPods)) continue;
      present.add(b.bundle);
      const key = JSON.stringify(spec);
      let last = this.#last.get(b.bundle);
      if (last && last.spec !== key) last = undefined;
      if (last && now - last.scrape.at < spec.intervalSeconds * 1000 - this.intervalMs / 2) continue;
      const targets = [...spec.targets];
      if (spec.annotatedPods && this.#opts.cluster) {
        pods ??= this.#opts.cluster.list({ apiVersion: 'v1', kind: 'Pod' }, {}).then((l) => l.items);
        try {
          targets.push(...podTargets(await pods, b.namespaces));
        } catch (e) {
          this.#opts.log?.('could not list pods to scrape', {
            bundle: b.bundle,
            error: (e as Error).message,
          });
        }
      }
      const scrape: BundleScrape = { at: now, targets: new Map() };
      await Promise.all(
        targets.map(async (url) => {
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
    return parsePrometheusText(
      await getText(url, this.#opts.timeoutMs ?? 5000, this.#opts.maxBytes ?? 4 << 20, signal),
    ).samples;
  }
}

/**
 * The scrape URLs of the Running pods in `namespaces` annotated the Prometheus way:
 * `prometheus.io/scrape: "true"`, `prometheus.io/port` (required), `prometheus.io/path` (default /metrics).
 */
export function podTargets(pods: readonly KubeObject[], namespaces: readonly string[]): string[] {
  const out: string[] = [];
  for (const pod of pods) {
    const a = pod.metadata.annotations ?? {};
    const status = pod.status as { phase?: string; podIP?: string } | undefined;
    if (!namespaces.includes(pod.metadata.namespace ?? '') || a['prometheus.io/scrape'] !== 'true') continue;
    const port = Number(a['prometheus.io/port']);
    if (status?.phase !== 'Running' || !status.podIP || !Number.isInteger(port) || port < 1 || port > 65535)
      continue;
    const host = status.podIP.includes(':') ? `[${status.podIP}]` : status.podIP;
    const path = a['prometheus.io/path'] ?? '/metrics';
    out.push(`http://${host}:${port}${path.startsWith('/') ? path : `/${path}`}`);
  }
  return out.sort();
}

/**
 * One GET with node:http(s), which the agent has loaded anyway (global fetch would load undici: ~15 MiB
 * more on a small node).
 */
function getText(url: string, timeoutMs: number, maxBytes: number, signal: AbortSignal): Promise<string> {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(
      url,
      { headers: { accept: 'text/plain;version=0.0.4' }, signal, timeout: timeoutMs },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) req.destroy(new Error('the exposition is larger than the limit'));
          else chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Whether a scrape worked and how long it took: debug data, the first to go when space is short. */
function scrapeHealth(bundle: string, url: string, t: number, up: number, ms: number): TelemetrySample[] {
  const labels = { target: url.slice(0, 256) };
  return [
    { class: 'debug', name: 'outpost_scrape_up', bundle, labels, t, v: up },
    { class: 'debug', name: 'outpost_scrape_duration_seconds', bundle, labels, t, v: ms / 1000 },
  ];
}
