// Watches the objects the agent owns: one list/watch per kind found in any bundle's inventory, scoped by
// the outpost.dev/bundle label, so a change made on the site (an edit, a deletion, a controller writing
// status) reaches the agent within moments instead of at the next periodic check.

import { groupOf, type KubeObject, type ObjectRef } from '../model/manifest.ts';
import type { Cluster, ObjectType } from './apply/cluster.ts';
import { bundleLabel } from './apply/engine.ts';
import { listAndWatch } from './kube/list-watch.ts';

export interface OwnedObjectsHandlers {
  /** an object labelled as a bundle's changed, appeared or went */
  onChange(object: KubeObject): void;
  /** a kind was listed afresh: changes may have been missed, so check everything of it */
  onResync(type: ObjectType): void;
}

export interface OwnedObjectsOptions {
  signal: AbortSignal;
  watchSeconds?: number;
  idleTimeoutMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

const typeKey = (t: ObjectType) => `${groupOf(t.apiVersion)}/${t.kind}`;

export class OwnedObjects {
  readonly #cluster: Cluster;
  readonly #handlers: OwnedObjectsHandlers;
  readonly #opts: OwnedObjectsOptions;
  readonly #loops = new Map<string, { stop: AbortController; done: Promise<void> }>();
  /** every loop still running, including those stopped by follow() and winding down */
  readonly #running = new Set<Promise<void>>();

  constructor(cluster: Cluster, handlers: OwnedObjectsHandlers, opts: OwnedObjectsOptions) {
    this.#cluster = cluster;
    this.#handlers = handlers;
    this.#opts = opts;
  }

  /** Watches exactly the kinds of these objects from now on. */
  follow(refs: Iterable<ObjectRef>): void {
    if (this.#opts.signal.aborted) return;
    const wanted = new Map<string, ObjectType>();
    for (const r of refs) wanted.set(typeKey(r), { apiVersion: r.apiVersion, kind: r.kind });
    for (const [key, loop] of this.#loops) {
      if (wanted.has(key)) continue;
      loop.stop.abort();
      this.#loops.delete(key);
    }
    for (const [key, type] of wanted) {
      if (this.#loops.has(key)) continue;
      const stop = new AbortController();
      const signal = AbortSignal.any([this.#opts.signal, stop.signal]);
      const done = listAndWatch(
        this.#cluster,
        type,
        {
          onList: () => this.#handlers.onResync(type),
          onEvent: (e) => this.#handlers.onChange(e.object),
        },
        {
          labelSelector: bundleLabel,
          signal,
          watchSeconds: this.#opts.watchSeconds,
          idleTimeoutMs: this.#opts.idleTimeoutMs,
          log: this.#opts.log,
        },
      );
      this.#loops.set(key, { stop, done });
      this.#running.add(done);
      void done.finally(() => this.#running.delete(done));
    }
  }

  /** Resolves once every watch has stopped (after the signal aborted). */
  async stopped(): Promise<void> {
    await Promise.all([...this.#running]);
  }
}
