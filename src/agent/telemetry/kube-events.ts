// Kubernetes events about what the site's bundles run: one list/watch of core/v1 Events, kept to the
// namespaces the bundles own and attributed to the bundle owning the namespace. An event is forwarded
// when it is new or its count moved; after a restart, only events newer than the last one forwarded.

import type { KubeObject } from '../../model/manifest.ts';
import type { TelemetryEvent } from '../../model/telemetry.ts';
import type { Cluster } from '../apply/cluster.ts';
import { listAndWatch } from '../kube/list-watch.ts';

interface CoreEvent extends KubeObject {
  involvedObject?: { kind?: string; namespace?: string; name?: string };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  series?: { count?: number; lastObservedTime?: string };
}

/** When the event was last seen, Unix ms, from whichever field the reporter filled in. */
function seenAt(e: CoreEvent): number {
  const at =
    e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? undefined;
  const t = at ? Date.parse(at as string) : Number.NaN;
  return Number.isNaN(t) ? 0 : t;
}

/** The wire form of a core/v1 Event, or undefined when it is about nothing a bundle owns. */
export function toTelemetryEvent(
  e: CoreEvent,
  bundleOfNamespace: ReadonlyMap<string, string>,
): TelemetryEvent | undefined {
  const ns = e.involvedObject?.namespace ?? e.metadata.namespace;
  const bundle = ns ? bundleOfNamespace.get(ns) : undefined;
  if (!bundle) return undefined;
  const count = e.series?.count ?? e.count;
  const out: TelemetryEvent = {
    t: seenAt(e),
    bundle,
    type: e.type === 'Warning' ? 'Warning' : 'Normal',
    object: `${e.involvedObject?.kind ?? 'Object'} ${ns}/${e.involvedObject?.name ?? ''}`.slice(0, 600),
    reason: (e.reason ?? '').slice(0, 256),
    message: (e.message ?? '').slice(0, 4096),
  };
  if (count && count >= 1) out.count = count;
  return out;
}

export interface KubeEventsOptions {
  signal: AbortSignal;
  /** the newest event time already forwarded (persisted by the caller), so a relist does not resend */
  after: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** Watches events until the signal aborts, passing each one about an owned namespace to `emit`. */
export async function watchKubeEvents(
  cluster: Cluster,
  bundleOfNamespace: () => ReadonlyMap<string, string>,
  emit: (event: TelemetryEvent) => void,
  opts: KubeEventsOptions,
): Promise<void> {
  /** uid → count forwarded, so a MODIFIED event with nothing new is not sent again */
  const forwarded = new Map<string, number>();
  let after = opts.after;
  const consider = (e: CoreEvent, fromList: boolean) => {
    const ev = toTelemetryEvent(e, bundleOfNamespace());
    if (!ev) return;
    const uid = String(e.metadata.uid ?? `${e.metadata.namespace}/${e.metadata.name}`);
    const count = ev.count ?? 1;
    if (forwarded.get(uid) === count) return;
    if (fromList && ev.t <= after) {
      forwarded.set(uid, count);
      return;
    }
    forwarded.set(uid, count);
    after = Math.max(after, ev.t);
    emit(ev);
  };
  await listAndWatch(
    cluster,
    { apiVersion: 'v1', kind: 'Event' },
    {
      onList: (items) => {
        for (const e of items) consider(e as CoreEvent, true);
      },
      onEvent: (w) => {
        if (w.type === 'DELETED') {
          forwarded.delete(String(w.object.metadata.uid ?? ''));
          return;
        }
        consider(w.object as CoreEvent, false);
      },
    },
    { labelSelector: '', signal: opts.signal, log: opts.log },
  );
}
