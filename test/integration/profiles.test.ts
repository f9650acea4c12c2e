// What a site runs beneath its bundles, from a real kube-apiserver: the test makes Node objects and
// writes their status.nodeInfo as a kubelet would, then plays system-upgrade-controller by moving the
// nodes to a new version one at a time; the agent reports each node and the hub's conformance follows:
// Upgrading while a node is on the old version, Conformant when all are done, Behind for a node too old.
// The site runs system-upgrade-controller's Plan CRD, since the agent drives the Kubernetes layer itself
// and would otherwise report it Behind at once (nothing could move the nodes).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SiteStackView } from '../../src/model/profile-wire.ts';
import { eventually } from '../support/eventually.ts';
import { type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { installUpgradeController } from '../support/upgrade-controller.ts';

let kube: KubeFixture;
let fleet: TestHub;
let agent: RunningAgent;

const profile = (version: string) => ({
  files: [
    {
      path: 'profiles/stores.yaml',
      content: `apiVersion: outpost.dev/v1
kind: Profile
metadata: {name: stores}
spec:
  placement:
    selector: {matchLabels: {region: west}}
  kubernetes: {distribution: k3s, version: ${version}}
  os: {image: Ubuntu, version: "24.04"}
`,
    },
  ],
});

async function createNode(name: string, controlPlane: boolean) {
  const labels = controlPlane ? { 'node-role.kubernetes.io/control-plane': 'true' } : {};
  const r = await kube.request('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

/** What a kubelet writes about itself; the test moves kubeletVersion as an upgrade would. */
async function reportKubelet(name: string, kubeletVersion: string) {
  const r = await kube.request(
    'PATCH',
    `/api/v1/nodes/${name}/status`,
    {
      status: {
        nodeInfo: {
          machineID: `machine-${name}`,
          systemUUID: `uuid-${name}`,
          bootID: `boot-${name}-${kubeletVersion}`,
          kernelVersion: '6.8.0-49-generic',
          osImage: 'Ubuntu 24.04.1 LTS',
          containerRuntimeVersion: 'containerd://1.7.23-k3s2',
          kubeletVersion,
          kubeProxyVersion: kubeletVersion,
          operatingSystem: 'linux',
          architecture: 'arm64',
        },
      },
    },
    'application/merge-patch+json',
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function stack(): Promise<SiteStackView> {
  return fleet.api.siteStack('store-1');
}

before(async () => {
  kube = await startKube();
  fleet = await startTestHub();
  await installUpgradeController(kube);
  await createNode('server', true);
  await createNode('agent-1', false);
  await reportKubelet('server', 'v1.30.6+k3s1');
  await reportKubelet('agent-1', 'v1.30.6+k3s1');
  agent = await startAgent(fleet, kube.kubeconfigPath, { name: 'store-1', labels: { region: 'west' } });
  await eventually('store-1 to register', async () =>
    (await fleet.api.sites()).find((s) => s.name === 'store-1'),
  );
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
});

test('the agent reports each node’s nodeInfo as the kubelet wrote it, and the API server’s version', async () => {
  const seen = await eventually('the nodes in a report', async () => {
    const s = await stack();
    return s.stack && s.stack.nodes.length === 2 ? s.stack : undefined;
  });
  assert.deepEqual(seen.nodes, [
    {
      name: 'agent-1',
      kubeletVersion: 'v1.30.6+k3s1',
      containerRuntimeVersion: 'containerd://1.7.23-k3s2',
      osImage: 'Ubuntu 24.04.1 LTS',
      kernelVersion: '6.8.0-49-generic',
      architecture: 'arm64',
      controlPlane: false,
    },
    {
      name: 'server',
      kubeletVersion: 'v1.30.6+k3s1',
      containerRuntimeVersion: 'containerd://1.7.23-k3s2',
      osImage: 'Ubuntu 24.04.1 LTS',
      kernelVersion: '6.8.0-49-generic',
      architecture: 'arm64',
      controlPlane: true,
    },
  ]);
  // the real kube-apiserver's own version, which charts render for
  assert.match(seen.kubernetesVersion ?? '', /^v1\.33\.\d+/);
});

test('a site on its profile’s versions is Conformant', async () => {
  await fleet.api.applyProfiles(profile('v1.30.6+k3s1'));
  const s = await stack();
  assert.equal(s.profile, 'stores');
  assert.equal(s.conformance?.state, 'Conformant', JSON.stringify(s.conformance));
});

test('an upgrade node by node is Upgrading until the last node reports the new version', async () => {
  await fleet.api.applyProfiles(profile('v1.31.4+k3s1'));
  // the revision's rollout gives it to the site (its only one: the canary) on the controller's next tick
  let s = await eventually('the rollout to give store-1 revision 2', async () => {
    const now = await stack();
    return now.conformance?.revision === 2 ? now : undefined;
  });
  assert.equal(s.conformance?.state, 'Upgrading');
  assert.deepEqual(s.conformance?.layers.find((l) => l.layer === 'kubernetes')?.behind, [
    'agent-1',
    'server',
  ]);
  await reportKubelet('server', 'v1.31.4+k3s1');
  s = await eventually('the server node upgraded', async () => {
    const now = await stack();
    const k = now.conformance?.layers.find((l) => l.layer === 'kubernetes');
    return k?.behind.length === 1 ? now : undefined;
  });
  assert.equal(s.conformance?.state, 'Upgrading');
  assert.deepEqual(s.conformance?.layers.find((l) => l.layer === 'kubernetes')?.behind, ['agent-1']);
  await reportKubelet('agent-1', 'v1.31.4+k3s1');
  await eventually('every node upgraded', async () => (await stack()).conformance?.state === 'Conformant');
  const list = await fleet.api.profiles();
  assert.deepEqual(list[0]?.counts, { Conformant: 1, Upgrading: 0, Behind: 0, Ahead: 0, Unknown: 0 });
});

test('a node that joins two minors behind is Behind at once, by name', async () => {
  await createNode('old-till', false);
  await reportKubelet('old-till', 'v1.29.10+k3s1');
  const s = await eventually('the old node in a report', async () => {
    const now = await stack();
    return now.conformance?.state === 'Behind' ? now : undefined;
  });
  const k = s.conformance?.layers.find((l) => l.layer === 'kubernetes');
  assert.deepEqual(k?.behind, ['old-till']);
  assert.match(
    k?.detail ?? '',
    /^node old-till: v1.29.10\+k3s1 → v1.31.4\+k3s1 skips a Kubernetes minor version/,
  );
  const conformance = await fleet.api.profileConformance('stores');
  assert.equal(conformance.counts.Behind, 1);
  assert.equal(conformance.layers.kubernetes?.Behind, 1);
  assert.equal(conformance.layers.os?.Conformant, 1);
});
