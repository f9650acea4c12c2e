// The order objects are applied in (and pruned in reverse): what others depend on comes first —
// namespaces and CRDs, then policy, identity and config, then workloads, then custom resources.

import type { ObjectRef } from '../../model/manifest.ts';

const kindOrder = [
  'CustomResourceDefinition',
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PriorityClass',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
];
const rank = new Map(kindOrder.map((k, i) => [k, i]));

/** Rank of a kind; kinds we do not know (custom resources) go last. */
export function applyRank(kind: string): number {
  return rank.get(kind) ?? kindOrder.length;
}

/** A stable sort into apply order (input order kept within a kind). */
export function inApplyOrder<T extends { kind: string }>(items: readonly T[]): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => applyRank(a.item.kind) - applyRank(b.item.kind) || a.i - b.i)
    .map((x) => x.item);
}

export function inPruneOrder(refs: readonly ObjectRef[]): ObjectRef[] {
  return inApplyOrder(refs).reverse();
}
