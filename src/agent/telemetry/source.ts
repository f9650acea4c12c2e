// What feeds the telemetry buffer: sources polled on an interval (the Prometheus scraper; a simulated
// SLI generator in the fleet simulator) and the bundles they collect for. A source never writes to disk
// itself; the site's telemetry component buffers what it returns.

import type { KubeObject } from '../../model/manifest.ts';
import type { TelemetryEvent, TelemetrySample } from '../../model/telemetry.ts';
import type { BundleTelemetry } from '../../model/telemetry-spec.ts';
import type { RenderedBundle } from '../../render/rendered.ts';

/** One bundle placed on the site, as telemetry sees it. */
export interface TelemetryBundle {
  bundle: string;
  /** the digest running on the site (a simulated source can make one revision worse than another) */
  digest?: string;
  /** the namespaces its objects live in: Kubernetes events there are attributed to it */
  namespaces: string[];
  telemetry?: BundleTelemetry;
}

export interface Collected {
  samples: TelemetrySample[];
  events: TelemetryEvent[];
}

/**
 * A producer of samples and events polled by the site's telemetry component.
 * @example const constant: TelemetrySource = { name: 'probe', intervalMs: 30_000, collect: async (now) => ({ samples: [{ class: 'sli', name: 'saturation', bundle: 'pos', t: now, v: 0.2 }], events: [] }) };
 */
export interface TelemetrySource {
  readonly name: string;
  /** how often `collect` is called */
  readonly intervalMs: number;
  collect(now: number, bundles: readonly TelemetryBundle[], signal: AbortSignal): Promise<Collected>;
}

/** The part of a rendered bundle telemetry needs. */
export function telemetryBundleOf(blob: RenderedBundle, digest?: string): TelemetryBundle {
  const namespaces = new Set<string>();
  if (blob.namespace) namespaces.add(blob.namespace);
  for (const o of blob.objects as KubeObject[]) {
    if (o.metadata.namespace) namespaces.add(o.metadata.namespace);
    if (o.kind === 'Namespace' && o.apiVersion === 'v1' && o.metadata.name) namespaces.add(o.metadata.name);
  }
  const out: TelemetryBundle = { bundle: blob.bundle, namespaces: [...namespaces].sort() };
  if (digest) out.digest = digest;
  if (blob.telemetry) out.telemetry = blob.telemetry;
  return out;
}
