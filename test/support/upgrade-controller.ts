// Plays system-upgrade-controller and the kubelets on the fixture apiserver, which has neither: makes
// Node objects, writes the kubelet version a node reports, and moves the nodes a Plan selects to its
// version one at a time (or leaves one behind), servers' Plan first, as the controller does.

import assert from 'node:assert/strict';
import type { KubeFixture } from './kube.ts';
import { upgradePlanCrd } from './upgrade-plan-crd.ts';

export const plansPath = '/apis/upgrade.cattle.io/v1/namespaces/system-upgrade/plans';

/** The Plan CRD and the namespace system-upgrade-controller's install makes. */
export async function installUpgradeController(kube: KubeFixture): Promise<void> {
  const crd = await kube.request(
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    upgradePlanCrd,
  );
  assert.equal(crd.status, 201, JSON.stringify(crd.body));
  const ns = await kube.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'system-upgrade' },
  });
  assert.equal(ns.status, 201, JSON.stringify(ns.body));
}

export async function createNode(kube: KubeFixture, name: string, controlPlane: boolean): Promise<void> {
  const labels = controlPlane ? { 'node-role.kubernetes.io/control-plane': 'true' } : {};
  const r = await kube.request('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

/** What the kubelet writes once the upgrade job has replaced its binary and restarted it. */
export async function reportKubelet(kube: KubeFixture, name: string, kubeletVersion: string): Promise<void> {
  const r = await kube.request(
    'PATCH',
    `/api/v1/nodes/${name}/status`,
    {
      status: {
        nodeInfo: { kubeletVersion, kubeProxyVersion: kubeletVersion, osImage: 'Ubuntu 24.04.1 LTS' },
      },
    },
    'application/merge-patch+json',
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function nodesOf(kube: KubeFixture, selector: { key: string; operator: string }): Promise<string[]> {
  const r = await kube.request('GET', '/api/v1/nodes');
  // biome-ignore lint/suspicious/noExplicitAny: raw apiserver list
  const items = r.body.items as any[];
  return items
    .filter((n) => Object.hasOwn(n.metadata.labels ?? {}, selector.key) === (selector.operator === 'Exists'))
    .map((n) => n.metadata.name as string)
    .sort();
}

/**
 * Plan by Plan, servers first, each selected node in turn is marked as applying and then reports the
 * Plan's version; `leave` names a node whose upgrade job never succeeds. `moved` is awaited after each
 * node (by default a short pause), so a test can keep in step with what it follows.
 */
export async function playController(
  kube: KubeFixture,
  distribution: 'k3s' | 'rke2',
  leave?: string,
  moved?: (node: string) => Promise<unknown>,
): Promise<void> {
  for (const plan of [`outpost-${distribution}-server`, `outpost-${distribution}-agent`]) {
    const got = await kube.request('GET', `${plansPath}/${plan}`);
    assert.equal(got.status, 200, `${plan}: ${JSON.stringify(got.body)}`);
    const [selector] = got.body.spec.nodeSelector.matchExpressions;
    for (const node of await nodesOf(kube, selector)) {
      const status = await kube.request(
        'PATCH',
        `${plansPath}/${plan}/status`,
        { status: { latestVersion: got.body.spec.version, applying: [node] } },
        'application/merge-patch+json',
      );
      assert.equal(status.status, 200, JSON.stringify(status.body));
      if (node !== leave) await reportKubelet(kube, node, got.body.spec.version);
      await (moved ? moved(node) : new Promise((r) => setTimeout(r, 300)));
    }
  }
}
