// Applies one rendered bundle to the cluster with server-side apply, so that a bad bundle changes as
// little as possible: every kind is resolved and every object dry-run first; only then is anything
// written, CRDs and Namespaces first, custom resources once their CRD is Established. Afterwards what
// the bundle no longer has is pruned (or orphaned, as the bundle says). Reading objects back for
// readiness and drift, and re-applying drifted ones, live here too.

import { sleep } from '../../base/timing.ts';
import {
  type BundleApplyOptions,
  type DeletionPolicy,
  type IgnoreDifferences,
  withApplyDefaults,
} from '../../model/apply-options.ts';
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
import { crashPoint } from '../crash-point.ts';
import { type Cluster, ClusterError } from './cluster.ts';
import { driftOf } from './drift.ts';
import { handoverManager, handoverOf, rulesFor, withoutIgnored } from './ignore-differences.ts';
import { inApplyOrder, inPruneOrder } from './order.ts';
import type { ObjectHealth } from './progress.ts';
import { readinessOf } from './readiness.ts';

export const fieldManager = 'outpost';
export const bundleLabel = 'outpost.dev/bundle';
export const managedByLabel = 'app.kubernetes.io/managed-by';

export interface ApplyOutcome {
  /** false when the bundle was refused (by discovery, dry-run or the apply itself) or pruning failed */
  ok: boolean;
  message: string;
  total: number;
  applied: number;
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

/** One of the bundle's objects as it goes to the cluster: ownership labels on, namespace resolved. */
export interface DesiredObject {
  object: KubeObject;
  ref: ObjectRef;
  key: string;
  /** its kind is served only once a CRD of this same bundle is established */
  deferred: boolean;
}

/** The kinds that CRDs in this bundle will serve, as "group/version/kind" → namespaced. */
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

export function optionsOf(bundle: RenderedBundle): BundleApplyOptions {
  return withApplyDefaults(bundle.options);
}

/**
 * Resolves each object's kind and namespace, in apply order. Objects of kinds nobody serves (and no CRD
 * of the bundle will) are listed in `unserved`; they are still returned, namespaced as written.
 */
export async function desiredObjects(
  cluster: Cluster,
  bundle: RenderedBundle,
): Promise<{ objects: DesiredObject[]; unserved: string[] }> {
  const crdKinds = kindsFromCrds(bundle.objects);
  const out: DesiredObject[] = [];
  const unserved: string[] = [];
  for (const original of bundle.objects) {
    const object = withOwnership(original, bundle.bundle);
    const info = await cluster.resourceOf(object.apiVersion, object.kind);
    const fromCrd = crdKinds.get(
      `${groupOf(object.apiVersion)}/${object.apiVersion.split('/').pop()}/${object.kind}`,
    );
    if (!info && fromCrd === undefined) {
      unserved.push(
        `${describeRef(refOf(object))}: no matches for kind "${object.kind}" in version "${object.apiVersion}" (the API server serves no such kind)`,
      );
    }
    const namespaced = info ? info.namespaced : (fromCrd ?? object.metadata.namespace !== undefined);
    if (namespaced) object.metadata.namespace = object.metadata.namespace ?? bundle.namespace ?? 'default';
    else delete object.metadata.namespace;
    const ref = refOf(object);
    out.push({ object, ref, key: refKey(ref), deferred: !info });
  }
  return { objects: inApplyOrder(out.map((p) => ({ ...p, kind: p.object.kind }))), unserved };
}

async function waitEstablished(
  cluster: Cluster,
  crds: DesiredObject[],
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>,
) {
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const live = await cluster.get(crd.ref);
      if (live && readinessOf(live).ready) break;
      if (Date.now() > deadline)
        throw new ClusterError(`${describeRef(crd.ref)} was not established in time`, 504);
      await sleep(200);
    }
  }
}

function refused(message: string, total: number, inventory: ObjectRef[], applied = 0): ApplyOutcome {
  return { ok: false, message, total, applied, inventory };
}

/**
 * Applies the bundle, then prunes what `previous` had and the bundle no longer has. A transient
 * failure (ClusterError with `transient`) is thrown for the caller to retry; anything the server
 * refuses comes back as `ok: false` with its own words.
 */
export async function applyBundle(
  cluster: Cluster,
  bundle: RenderedBundle,
  previous: readonly ObjectRef[],
  opts: EngineOptions,
): Promise<ApplyOutcome> {
  const pause = opts.sleep ?? sleep;
  const options = optionsOf(bundle);
  const total = bundle.objects.length;
  const { objects: prepared, unserved } = await desiredObjects(cluster, bundle);
  if (unserved.length > 0) return refused(unserved[0]!, total, [...previous]);

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
      const config = await configOf(cluster, p, rulesFor(options.ignoreDifferences, p.ref));
      await applyReclaiming(cluster, config, options.force, true);
    } catch (e) {
      if (e instanceof ClusterError && !e.transient)
        return refused(`${describeRef(p.ref)}: ${e.message}`, total, [...previous]);
      throw e;
    }
  }

  const wanted = new Set(prepared.map((p) => p.key));
  const union = [...prepared.map((p) => p.ref), ...previous.filter((r) => !wanted.has(refKey(r)))];
  await opts.saveInventory(union);
  crashPoint('before-first-write', bundle.bundle);

  const errors: string[] = [];
  let applied = 0;
  const crds = prepared.filter((p) => isCrd(p.object));
  let established = crds.length === 0;
  for (const p of prepared) {
    if (p.deferred && !established) {
      await waitEstablished(cluster, crds, opts.establishTimeoutMs ?? 30_000, pause);
      established = true;
    }
    try {
      await applyObject(cluster, p, options.force, options.ignoreDifferences, pause);
      applied++;
    } catch (e) {
      if (e instanceof ClusterError && !e.transient) errors.push(`${describeRef(p.ref)}: ${e.message}`);
      else throw e;
    }
  }
  if (errors.length > 0) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    return refused(`${errors[0]}${more}`, total, union, applied);
  }

  const pruneErrors = await prune(
    cluster,
    bundle.bundle,
    previous.filter((r) => !wanted.has(refKey(r))),
    options.deletionPolicy,
  );
  if (pruneErrors.length > 0) return refused(`prune: ${pruneErrors[0]}`, total, union, applied);
  const inventory = prepared.map((p) => p.ref);
  await opts.saveInventory(inventory);
  return { ok: true, message: '', total, applied, inventory };
}

/** What goes to the cluster for an object as it stands: all of it, less what the bundle ignores once it exists. */
async function configOf(
  cluster: Cluster,
  p: DesiredObject,
  rules: readonly IgnoreDifferences[],
): Promise<KubeObject> {
  if (rules.length === 0 || p.deferred) return p.object;
  return withoutIgnored(p.object, await getUnlessUnserved(cluster, p.ref), rules);
}

/**
 * Applies one object. Fields the bundle ignores are set when the object is created and then released:
 * handed over at their live value first while the agent still owns them (see ignore-differences.ts).
 */
async function applyObject(
  cluster: Cluster,
  p: DesiredObject,
  force: boolean,
  ignore: readonly IgnoreDifferences[] | undefined,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  const rules = rulesFor(ignore, p.ref);
  let live = rules.length > 0 ? await getUnlessUnserved(cluster, p.ref) : undefined;
  if (rules.length === 0 || !live) {
    live = await applyWithDiscoveryRetry(cluster, p, p.object, force, sleep);
    if (rules.length === 0) return;
  }
  const handover = handoverOf(live, rules, fieldManager);
  if (handover) {
    try {
      await cluster.apply(handover, { fieldManager: handoverManager, force: false });
    } catch (e) {
      // another manager took the field meanwhile: it is theirs already, nothing to hand over
      if (!(e instanceof ClusterError && e.status === 409)) throw e;
    }
  }
  await applyWithDiscoveryRetry(cluster, p, withoutIgnored(p.object, live, rules), force, sleep);
}

/** Whether every conflict of a refused apply is with the agent's own handover manager. */
function onlyHandoverConflicts(e: unknown): boolean {
  if (!(e instanceof ClusterError) || e.status !== 409) return false;
  const managers = [...e.message.matchAll(/conflicts? with "([^"]+)"/g)].map((m) => m[1]);
  return managers.length > 0 && managers.every((m) => m === handoverManager);
}

/**
 * An apply as the agent's field manager. A field once ignored and handed over is taken back when the
 * bundle sets it again: a conflict with the agent's own handover manager alone is no one else's intent.
 */
async function applyReclaiming(
  cluster: Cluster,
  config: KubeObject,
  force: boolean,
  dryRun = false,
): Promise<KubeObject> {
  try {
    return await cluster.apply(config, { fieldManager, force, dryRun });
  } catch (e) {
    if (force || !onlyHandoverConflicts(e)) throw e;
    return cluster.apply(config, { fieldManager, force: true, dryRun });
  }
}

/** Right after a CRD is established, discovery may lag a moment behind; ask again briefly. */
async function applyWithDiscoveryRetry(
  cluster: Cluster,
  p: DesiredObject,
  config: KubeObject,
  force: boolean,
  sleep: (ms: number) => Promise<void>,
): Promise<KubeObject> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await applyReclaiming(cluster, config, force);
    } catch (e) {
      const unserved = e instanceof ClusterError && e.status === 404 && p.deferred;
      if (!unserved || attempt >= 25) throw e;
      await sleep(200);
    }
  }
}

/**
 * Puts drifted objects back as the bundle says. Forced: the fields were the bundle's, someone changed
 * them on the site since, and correcting drift means taking them back. Returns the errors.
 */
export async function correctDrift(
  cluster: Cluster,
  objects: readonly DesiredObject[],
  ignore?: readonly IgnoreDifferences[],
): Promise<string[]> {
  const errors: string[] = [];
  for (const p of inApplyOrder(objects.map((o) => ({ ...o, kind: o.object.kind })))) {
    try {
      await applyObject(cluster, p, true, ignore, sleep);
    } catch (e) {
      if (e instanceof ClusterError && !e.transient) errors.push(`${describeRef(p.ref)}: ${e.message}`);
      else throw e;
    }
  }
  return errors;
}

/** Reads objects back and judges each: readiness, and drift from what the bundle sets and does not ignore. */
export async function inspect(
  cluster: Cluster,
  objects: readonly DesiredObject[],
  ignore?: readonly IgnoreDifferences[],
): Promise<ObjectHealth[]> {
  const out: ObjectHealth[] = [];
  for (const p of objects) {
    const live = await getUnlessUnserved(cluster, p.ref);
    const object = describeRef(p.ref);
    if (!live) {
      out.push({
        key: p.key,
        object,
        ready: false,
        reason: 'missing from the cluster',
        drift: driftOf(p.object, undefined),
      });
      continue;
    }
    const r = readinessOf(live);
    const health: ObjectHealth = {
      key: p.key,
      object,
      ready: r.ready,
      reason: r.reason,
      drift: driftOf(withoutIgnored(p.object, live, rulesFor(ignore, p.ref)), live),
    };
    if (r.failed) health.failed = true;
    out.push(health);
  }
  return out;
}

/** A kind no longer served (its CRD was deleted) means the object is gone too. */
async function getUnlessUnserved(cluster: Cluster, ref: ObjectRef): Promise<KubeObject | undefined> {
  try {
    return await cluster.get(ref);
  } catch (e) {
    if (e instanceof ClusterError && e.status === 404) return undefined;
    throw e;
  }
}

/**
 * Removes objects this bundle created and no longer has: deleted, or with Orphan left in place without
 * the labels that tie them to the bundle. An object whose live copy carries another bundle's label (or
 * none) was taken over by someone else and is left alone.
 */
export async function prune(
  cluster: Cluster,
  bundle: string,
  refs: readonly ObjectRef[],
  policy: DeletionPolicy = 'Delete',
): Promise<string[]> {
  const errors: string[] = [];
  for (const ref of inPruneOrder(refs)) {
    try {
      const live = await cluster.get(ref);
      if (!live || live.metadata.labels?.[bundleLabel] !== bundle) continue;
      if (policy === 'Orphan') {
        await cluster.patchMetadata(
          ref,
          { labels: { [bundleLabel]: null, [managedByLabel]: null } },
          fieldManager,
        );
      } else {
        await cluster.delete(ref);
      }
    } catch (e) {
      if (e instanceof ClusterError && e.status === 404) continue;
      if (e instanceof ClusterError && !e.transient) errors.push(`${describeRef(ref)}: ${e.message}`);
      else throw e;
    }
  }
  return errors;
}
