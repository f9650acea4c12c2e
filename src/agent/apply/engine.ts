// Applies one rendered bundle to the cluster with server-side apply, so that a bad bundle changes as
// little as possible: every kind is resolved and every object dry-run first; only then is anything
// written. Afterwards what the bundle no longer has is pruned, and readiness is read back.

import type { ReportedState, ResourceCounts } from '../../model/deployment.ts';
import {
  describeRef,
  groupOf,
  isCrd,
  isNamespace,
  type KubeObject,
  type ObjectRef,
  refKey,
  refOf,
} from '../../model/manifest.ts';
import type { RenderedBundle } from '../../render/rendered.ts';
import { type Cluster, ClusterError } from './cluster.ts';
import { inApplyOrder, inPruneOrder } from './order.ts';
import { readinessOf } from './readiness.ts';

export const fieldManager = 'outpost';
export const bundleLabel = 'outpost.dev/bundle';
export const managedByLabel = 'app.kubernetes.io/managed-by';

export interface NotReady {
  object: string;
  reason: string;
}

export interface ApplyOutcome {
  state: ReportedState;
  message: string;
  counts: ResourceCounts;
  notReady: NotReady[];
  /** what the site now holds for this bundle (the next prune works from this) */
  inventory: ObjectRef[];
}

export interface EngineOptions {
  /** persists the inventory; called before the first write, so a crash never loses track of an object */
  saveInventory: (refs: ObjectRef[]) => Promise<void>;
  /** how long to wait for a CRD to be Established before its custom resources are applied */
  establishTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Prepared {
  object: KubeObject;
  ref: ObjectRef;
  /** its kind is served only once a CRD of this same bundle is established */
  deferred: boolean;
}

/** The kinds that CRDs in this bundle will serve, as "apiVersion/kind" → namespaced. */
function kindsFromCrds(objects: readonly KubeObject[]): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const o of objects) {
    if (!isCrd(o)) continue;
    const spec = (o.spec ?? {}) as {
      group?: string;
      scope?: string;
      names?: { kind?: string };
      versions?: Array<{ name?: string }>;
    };
    for (const v of spec.versions ?? []) {
      out.set(`${spec.group}/${v.name}/${spec.names?.kind}`, spec.scope === 'Namespaced');
    }
  }
  return out;
}

function withOwnership(obj: KubeObject, bundle: string): KubeObject {
  const copy = structuredClone(obj);
  copy.metadata.labels = { ...copy.metadata.labels, [bundleLabel]: bundle, [managedByLabel]: 'outpost' };
  return copy;
}

function failed(message: string, total: number, inventory: ObjectRef[], applied = 0): ApplyOutcome {
  return { state: 'Failed', message, counts: { total, applied, ready: 0 }, notReady: [], inventory };
}

/** Resolves kinds and namespaces; an object whose kind nobody serves fails the bundle before any write. */
async function prepare(cluster: Cluster, bundle: RenderedBundle): Promise<Prepared[] | string> {
  const crdKinds = kindsFromCrds(bundle.objects);
  const out: Prepared[] = [];
  for (const original of bundle.objects) {
    const object = withOwnership(original, bundle.bundle);
    const info = await cluster.resourceOf(object.apiVersion, object.kind);
    const fromCrd = crdKinds.get(
      `${groupOf(object.apiVersion)}/${object.apiVersion.split('/').pop()}/${object.kind}`,
    );
    if (!info && fromCrd === undefined) {
      return `${describeRef(refOf(object))}: no matches for kind "${object.kind}" in version "${object.apiVersion}" (the API server serves no such kind)`;
    }
    const namespaced = info ? info.namespaced : (fromCrd ?? false);
    if (namespaced) object.metadata.namespace = object.metadata.namespace ?? bundle.namespace ?? 'default';
    else delete object.metadata.namespace;
    out.push({ object, ref: refOf(object), deferred: !info });
  }
  return inApplyOrder(out.map((p) => ({ ...p, kind: p.object.kind })));
}

async function waitEstablished(
  cluster: Cluster,
  crds: Prepared[],
  timeoutMs: number,
  sleep: EngineOptions['sleep'],
) {
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const live = await cluster.get(crd.ref);
      if (live && readinessOf(live).ready) break;
      if (Date.now() > deadline)
        throw new ClusterError(`${describeRef(crd.ref)} was not established in time`, 504);
      await sleep!(200);
    }
  }
}

export async function applyBundle(
  cluster: Cluster,
  bundle: RenderedBundle,
  previous: readonly ObjectRef[],
  opts: EngineOptions,
): Promise<ApplyOutcome> {
  const sleep = opts.sleep ?? defaultSleep;
  const total = bundle.objects.length;
  const prepared = await prepare(cluster, bundle);
  if (typeof prepared === 'string') return failed(prepared, total, [...previous]);

  // Dry-run everything that can be checked now: the API server's own validation, admission and
  // conflict detection, before a single object changes. Objects whose namespace or CRD this bundle
  // creates cannot be dry-run yet; they are checked by the real apply.
  const namespaces = new Set(prepared.filter((p) => isNamespace(p.object)).map((p) => p.ref.name));
  const existing = new Map<string, boolean>();
  for (const p of prepared) {
    if (p.deferred) continue;
    const ns = p.ref.namespace;
    if (ns && namespaces.has(ns)) {
      if (!existing.has(ns))
        existing.set(
          ns,
          (await cluster.get({ apiVersion: 'v1', kind: 'Namespace', name: ns })) !== undefined,
        );
      if (!existing.get(ns)) continue;
    }
    try {
      await cluster.apply(p.object, { fieldManager, force: false, dryRun: true });
    } catch (e) {
      if (e instanceof ClusterError && !e.transient)
        return failed(`${describeRef(p.ref)}: ${e.message}`, total, [...previous]);
      throw e;
    }
  }

  const wanted = new Set(prepared.map((p) => refKey(p.ref)));
  const union = [...prepared.map((p) => p.ref), ...previous.filter((r) => !wanted.has(refKey(r)))];
  await opts.saveInventory(union);

  const errors: string[] = [];
  let applied = 0;
  const crds = prepared.filter((p) => isCrd(p.object));
  let established = crds.length === 0;
  for (const p of prepared) {
    if (p.deferred && !established) {
      await waitEstablished(cluster, crds, opts.establishTimeoutMs ?? 30_000, sleep);
      established = true;
    }
    try {
      await applyWithDiscoveryRetry(cluster, p, sleep);
      applied++;
    } catch (e) {
      if (e instanceof ClusterError && !e.transient) errors.push(`${describeRef(p.ref)}: ${e.message}`);
      else throw e;
    }
  }
  if (errors.length > 0) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    return failed(`${errors[0]}${more}`, total, union, applied);
  }

  const pruneErrors = await prune(
    cluster,
    bundle.bundle,
    previous.filter((r) => !wanted.has(refKey(r))),
  );
  const inventory = prepared.map((p) => p.ref);
  if (pruneErrors.length > 0) {
    return failed(`prune: ${pruneErrors[0]}`, total, union, applied);
  }
  await opts.saveInventory(inventory);
  const { readyCount, notReady, anyFailed } = await readBack(cluster, inventory);
  const state: ReportedState = anyFailed ? 'Failed' : notReady.length === 0 ? 'Ready' : 'NotReady';
  const message = notReady.length === 0 ? '' : `${notReady[0]!.object}: ${notReady[0]!.reason}`;
  return { state, message, counts: { total, applied, ready: readyCount }, notReady, inventory };
}

/** Right after a CRD is established, discovery may lag a moment behind; ask again briefly. */
async function applyWithDiscoveryRetry(cluster: Cluster, p: Prepared, sleep: (ms: number) => Promise<void>) {
  for (let attempt = 0; ; attempt++) {
    try {
      await cluster.apply(p.object, { fieldManager, force: false });
      return;
    } catch (e) {
      const unserved = e instanceof ClusterError && e.status === 404 && p.deferred;
      if (!unserved || attempt >= 25) throw e;
      await sleep(200);
    }
  }
}

/** Reads every object back and judges it; used after an apply and on each resync. */
export async function readBack(
  cluster: Cluster,
  refs: readonly ObjectRef[],
): Promise<{ readyCount: number; notReady: NotReady[]; anyFailed: boolean }> {
  let readyCount = 0;
  let anyFailed = false;
  const notReady: NotReady[] = [];
  for (const ref of refs) {
    const live = await cluster.get(ref);
    if (!live) {
      notReady.push({ object: describeRef(ref), reason: 'missing from the cluster' });
      continue;
    }
    const r = readinessOf(live);
    if (r.ready) readyCount++;
    else notReady.push({ object: describeRef(ref), reason: r.reason });
    if (r.failed) anyFailed = true;
  }
  return { readyCount, notReady, anyFailed };
}

/**
 * Deletes objects this bundle created and no longer has. An object whose live copy carries another
 * bundle's label (or none) was taken over by someone else and is left alone.
 */
export async function prune(cluster: Cluster, bundle: string, refs: readonly ObjectRef[]): Promise<string[]> {
  const errors: string[] = [];
  for (const ref of inPruneOrder(refs)) {
    try {
      const live = await cluster.get(ref);
      if (!live || live.metadata.labels?.[bundleLabel] !== bundle) continue;
      await cluster.delete(ref);
    } catch (e) {
      if (e instanceof ClusterError && e.status === 404) continue;
      if (e instanceof ClusterError && !e.transient) errors.push(`${describeRef(ref)}: ${e.message}`);
      else throw e;
    }
  }
  return errors;
}
