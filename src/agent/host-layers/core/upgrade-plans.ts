// The two system-upgrade-controller Plans that move a k3s or RKE2 site's nodes to a profile's Kubernetes
// version: servers first, then agents (whose Plan waits on the servers' with `prepare`), as k3s and RKE2 document.

import type { KubeObject } from '../../../model/manifest.ts';
import { defaultNodeUpgradePolicy, type KubernetesLayer } from '../../../model/profile.ts';

/** Where system-upgrade-controller's install puts itself, its service account and its Plans. */
export const upgradeNamespace = 'system-upgrade';
export const planApiVersion = 'upgrade.cattle.io/v1';
/** When the agent first asked for this version: the deadline counts from it, across agent restarts. */
export const startedAtAnnotation = 'outpost.dev/upgrade-started-at';

const controlPlaneLabel = 'node-role.kubernetes.io/control-plane';

export interface UpgradePlans {
  server: KubeObject;
  agent: KubeObject;
}

/**
 * The Plans for one target; applying them again for the same target and start changes nothing.
 * @example upgradePlans({ distribution: 'k3s', version: 'v1.31.4+k3s1' }, '2026-12-05T17:00:00.000Z').server.metadata.name // 'outpost-k3s-server'
 */
export function upgradePlans(target: KubernetesLayer, startedAt: string): UpgradePlans {
  if (target.distribution === 'other')
    throw new Error(
      'system-upgrade-controller Plans are for k3s and rke2; other distributions use a host hook',
    );
  const policy = target.upgrade ?? defaultNodeUpgradePolicy;
  const image = `rancher/${target.distribution}-upgrade`;
  const serverName = `outpost-${target.distribution}-server`;
  const common = {
    concurrency: policy.concurrency,
    // a drain cordons the node anyway; the controller wants the two asked for together
    cordon: policy.cordon || policy.drain,
    ...(policy.drain ? { drain: { force: false, ignoreDaemonSets: true, deleteEmptydirData: true } } : {}),
    serviceAccountName: 'system-upgrade',
    upgrade: { image },
    version: target.version,
  };
  const plan = (name: string, spec: Record<string, unknown>): KubeObject => ({
    apiVersion: planApiVersion,
    kind: 'Plan',
    metadata: {
      name,
      namespace: upgradeNamespace,
      labels: { 'app.kubernetes.io/managed-by': 'outpost' },
      annotations: { [startedAtAnnotation]: startedAt },
    },
    spec,
  });
  return {
    server: plan(serverName, {
      ...common,
      nodeSelector: { matchExpressions: [{ key: controlPlaneLabel, operator: 'Exists' }] },
      // servers carry these taints on k3s and RKE2; the upgrade job must land on them anyway
      tolerations: [
        { key: controlPlaneLabel, operator: 'Exists', effect: 'NoSchedule' },
        { key: 'CriticalAddonsOnly', operator: 'Exists', effect: 'NoExecute' },
      ],
    }),
    agent: plan(`outpost-${target.distribution}-agent`, {
      ...common,
      nodeSelector: { matchExpressions: [{ key: controlPlaneLabel, operator: 'DoesNotExist' }] },
      // the upgrade image's `prepare` waits until the server Plan is done: kubelets never outrun the API server
      prepare: { image, args: ['prepare', serverName] },
    }),
  };
}
