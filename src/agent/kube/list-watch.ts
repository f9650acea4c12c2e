// Keeps one kind of object in view, the way client-go's reflector does: list, then watch from the list's
// resource version; follow bookmarks; list again when the server says the version is gone (410);
// back off with jitter on failures. Runs until its signal aborts.

import { sleep as abortableSleep, backoffDelay } from '../../base/timing.ts';
import type { KubeObject } from '../../model/manifest.ts';
import { type Cluster, ClusterError, type ObjectType, type WatchEvent } from '../apply/cluster.ts';

export interface ListWatchHandlers {
  /** a fresh full list: whatever happened since the last one may have been missed */
  onList(items: KubeObject[]): void;
  /** a change (bookmarks are kept to itself) */
  onEvent(event: WatchEvent): void;
}

export interface ListWatchOptions {
  labelSelector: string;
  signal: AbortSignal;
  /** how long the server holds one watch; each watch asks for between this and twice this */
  watchSeconds?: number;
  /** a watch that sends nothing, not even a bookmark, for this long is taken for a dead connection */
  idleTimeoutMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A watch that ends sooner than this without one event counts as a failure, so it cannot spin. */
const minHealthyWatchMs = 1000;

/** Lists and watches one kind until `opts.signal` aborts. Never throws for a cluster failure. */
export async function listAndWatch(
  cluster: Cluster,
  type: ObjectType,
  handlers: ListWatchHandlers,
  opts: ListWatchOptions,
): Promise<void> {
  const { signal, labelSelector } = opts;
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? abortableSleep;
  const watchSeconds = opts.watchSeconds ?? 300;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 150_000;
  let resourceVersion: string | undefined;
  let failures = 0;
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const list = await cluster.list(type, { labelSelector, signal });
        resourceVersion = list.resourceVersion;
        handlers.onList(list.items);
      }
      const started = Date.now();
      let events = 0;
      for await (const event of cluster.watch(type, {
        labelSelector,
        resourceVersion,
        timeoutSeconds: Math.round(watchSeconds * (1 + random())),
        idleTimeoutMs,
        signal,
      })) {
        events++;
        failures = 0;
        resourceVersion = (event.object.metadata.resourceVersion as string | undefined) ?? resourceVersion;
        if (event.type !== 'BOOKMARK') handlers.onEvent(event);
      }
      // The server ended the watch on time: watch again from where it left off.
      if (events > 0 || Date.now() - started >= minHealthyWatchMs) failures = 0;
      else await sleep(backoffDelay(failures++, 500, 30_000, random), signal);
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ClusterError && e.status === 410) {
        // The version is older than the server keeps: only a new list can tell what changed since.
        opts.log?.('watch expired; listing again', { kind: type.kind });
        resourceVersion = undefined;
        continue;
      }
      const delay = backoffDelay(failures++, 500, 30_000, random);
      opts.log?.('watch failed; retrying', { kind: type.kind, error: (e as Error).message, delayMs: delay });
      await sleep(delay, signal);
    }
  }
}
