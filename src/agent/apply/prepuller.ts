// Runs a pre-pull on the cluster (see prepull.ts for the why): creates the DaemonSets of a plan, reads
// how far they got, and removes them once the switch is made, or when the agent finds leftovers.

import { describeRef, type ObjectRef } from '../../model/manifest.ts';
import { type Cluster, ClusterError } from './cluster.ts';
import { fieldManager } from './engine.ts';
import {
  type PrePullPlan,
  type PrePullProgress,
  prePullDaemonSet,
  prePullLabel,
  prePullName,
  prePullProgress,
} from './prepull.ts';

export interface PrePullStatus {
  /** the namespaces that got a DaemonSet (a namespace that does not exist yet runs nothing to switch from) */
  namespaces: string[];
  images: number;
  progress: PrePullProgress[];
}

const daemonSetRef = (bundle: string, namespace: string): ObjectRef => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  name: prePullName(bundle),
  namespace,
});

/** Makes sure each plan's DaemonSet exists (idempotent) and returns their progress. */
export async function runPrePull(
  cluster: Cluster,
  bundle: string,
  plans: readonly PrePullPlan[],
  pauseImage: string,
): Promise<PrePullStatus> {
  const status: PrePullStatus = { namespaces: [], images: 0, progress: [] };
  for (const plan of plans) {
    const ns = await cluster.get({ apiVersion: 'v1', kind: 'Namespace', name: plan.namespace });
    if (!ns) continue;
    // Forced: the DaemonSet is the agent's own scaffolding; nobody else has a say in it.
    const live = await cluster.apply(prePullDaemonSet(bundle, plan, pauseImage), {
      fieldManager,
      force: true,
    });
    status.namespaces.push(plan.namespace);
    status.images += plan.images.length;
    status.progress.push(prePullProgress(live));
  }
  return status;
}

/** Removes the bundle's pre-pull DaemonSets in these namespaces. */
export async function removePrePull(
  cluster: Cluster,
  bundle: string,
  namespaces: readonly string[],
): Promise<void> {
  for (const ns of namespaces) await cluster.delete(daemonSetRef(bundle, ns));
}

/** Removes pre-pull DaemonSets left behind (e.g. by a restart mid-pull) by bundles not pre-pulling now. */
export async function sweepPrePulls(cluster: Cluster, active: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  const list = await cluster.list(
    { apiVersion: 'apps/v1', kind: 'DaemonSet' },
    { labelSelector: prePullLabel },
  );
  for (const ds of list.items) {
    const bundle = ds.metadata.labels?.[prePullLabel] ?? '';
    if (active.has(bundle)) continue;
    const ref = daemonSetRef(bundle, ds.metadata.namespace ?? 'default');
    ref.name = ds.metadata.name ?? ref.name;
    try {
      await cluster.delete(ref);
      removed.push(describeRef(ref));
    } catch (e) {
      if (!(e instanceof ClusterError && e.status === 404)) throw e;
    }
  }
  return removed;
}
