// The site's telemetry as the agent runs it: buffered under the state directory, sent through the hub
// client once the site is registered, with the agent's own metrics, collected for the bundles in force.

import { join } from 'node:path';
import { TransportError } from '../net/http-client.ts';
import type { RenderedBundle } from '../render/rendered.ts';
import type { Cluster } from './apply/cluster.ts';
import type { HubClient } from './hub-client.ts';
import type { ManifestsInForce } from './reconciler.ts';
import { SiteTelemetry, type TelemetryStatus } from './telemetry/site-telemetry.ts';
import { type TelemetryBundle, type TelemetrySource, telemetryBundleOf } from './telemetry/source.ts';

export interface AgentTelemetryOptions {
  /** disk budget of the telemetry buffer (default 64 MiB) */
  budgetBytes?: number;
  /** optional uplink cap, compressed bytes per second */
  bandwidthBytesPerSecond?: number;
  /** how often new telemetry is sent (default 30 s: one request per site, however many classes) */
  flushMs?: number;
  /** what produces samples (default: the Prometheus scraper of spec.telemetry); the simulator feeds its own */
  sources?: TelemetrySource[];
  /** watch Kubernetes events of the bundles' namespaces (default true) */
  events?: boolean;
}

export interface AgentTelemetryWiring {
  stateDir: string;
  cluster: Cluster;
  /** the client that speaks as the site, once it has its identity */
  hub: () => HubClient | undefined;
  /** the agent's own metrics (reports waiting and dropped, bundles), read at each recording */
  agentMetrics: () => Record<string, number>;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class AgentTelemetry implements ManifestsInForce {
  readonly #telemetry: SiteTelemetry;
  /** per placed bundle, what telemetry collects for it (from its manifests) */
  readonly #bundles = new Map<string, TelemetryBundle>();

  private constructor(telemetry: SiteTelemetry) {
    this.#telemetry = telemetry;
  }

  /** Opens the buffer in <stateDir>/telemetry. */
  static async open(opts: AgentTelemetryOptions, wiring: AgentTelemetryWiring): Promise<AgentTelemetry> {
    const telemetry = await SiteTelemetry.open({
      dir: join(wiring.stateDir, 'telemetry'),
      uplink: {
        send: (gzipped, signal) => {
          const hub = wiring.hub();
          return hub
            ? hub.telemetry(gzipped, signal)
            : Promise.reject(new TransportError('not registered with the hub yet'));
        },
      },
      budgetBytes: opts.budgetBytes,
      bandwidthBytesPerSecond: opts.bandwidthBytesPerSecond,
      flushMs: opts.flushMs,
      sources: opts.sources,
      cluster: wiring.cluster,
      events: opts.events,
      agentMetrics: wiring.agentMetrics,
      log: wiring.log,
    });
    return new AgentTelemetry(telemetry);
  }

  enforcing(bundle: string, manifests: RenderedBundle, digest: string): void {
    this.#bundles.set(bundle, telemetryBundleOf(manifests, digest));
  }

  placed(bundles: ReadonlySet<string>): void {
    for (const bundle of this.#bundles.keys()) if (!bundles.has(bundle)) this.#bundles.delete(bundle);
    this.#telemetry.setBundles([...this.#bundles.values()]);
  }

  /** The hub answers again: send now rather than after the backoff. */
  hubBack(): void {
    this.#telemetry.hubBack();
  }

  status(): TelemetryStatus {
    return this.#telemetry.status();
  }

  /** Collects and sends until `signal` aborts; never throws, telemetry trouble does not stop the site. */
  run(signal: AbortSignal): Promise<void> {
    return this.#telemetry.run(signal);
  }
}
