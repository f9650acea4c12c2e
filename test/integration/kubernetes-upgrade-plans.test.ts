// A k3s upgrade driven through system-upgrade-controller Plans on a real kube-apiserver: the test installs
// the Plan CRD, makes Node objects and plays the controller (it reads the Plans the agent applied and moves
// the nodes they select to the Plan's version one at a time, or leaves one behind); the agent follows.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  KubernetesLayerUpgrade,
  type KubernetesTarget,
} from '../../src/agent/host-layers/kubernetes-layer.ts';
import { KubeCluster } from '../../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../../src/agent/kube/config.ts';
import type { LayerUpgrade } from '../../src/model/site-stack.ts';
import { eventually } from '../support/eventually.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import {
  createNode,
  installUpgradeController,
  plansPath,
  playController,
  reportKubelet,
} from '../support/upgrade-controller.ts';

let kube: KubeFixture;
let cluster: KubeCluster;

const target = (version: string, deadlineSeconds = 120): KubernetesTarget => ({
  distribution: 'k3s',
  version,
  upgrade: { concurrency: 1, cordon: true, drain: false },
  deadlineSeconds,
});

before(async () => {
  kube = await startKube();
  cluster = new KubeCluster(kubeConfigFromFile(kube.kubeconfigPath));
  await createNode(kube, 'server', true);
  await createNode(kube, 'till-1', false);
  await createNode(kube, 'till-2', false);
  for (const n of ['server', 'till-1', 'till-2']) await reportKubelet(kube, n, 'v1.30.6+k3s1');
});

after(async () => {
  await kube?.stop();
});

test('without system-upgrade-controller an upgrade is Behind at once and says why', async () => {
  const p = await new KubernetesLayerUpgrade({ cluster, pollMs: 100 }).pass(target('v1.31.4+k3s1'));
  assert.equal(p.state, 'Behind');
  assert.deepEqual(p.behind, ['server', 'till-1', 'till-2']);
  assert.match(p.detail, /system-upgrade-controller is not installed/);
});

test('nodes already at the profile’s version are Conformant and get no Plan', async () => {
  await installUpgradeController(kube);
  // discovery can lag the CRD's Established condition; the agent's own discovery is what must see it
  await eventually('the Plan kind in discovery', async () =>
    cluster.resourceOf('upgrade.cattle.io/v1', 'Plan'),
  );
  const p = await new KubernetesLayerUpgrade({ cluster, pollMs: 100 }).pass(target('v1.30.6+k3s1'));
  assert.equal(p.state, 'Conformant');
  assert.equal((await kube.request('GET', plansPath)).body.items.length, 0);
});

test('a minor upgrade applies both Plans and is Upgrading node by node until Conformant', async () => {
  const upgrade = new KubernetesLayerUpgrade({ cluster, pollMs: 100 });
  const seen: LayerUpgrade[] = [];
  const ctl = new AbortController();
  const followed = upgrade.follow(target('v1.31.4+k3s1'), ctl.signal, (p) => seen.push(p));
  await eventually(
    'both Plans applied',
    async () => (await kube.request('GET', plansPath)).body.items.length === 2,
  );
  const server = (await kube.request('GET', `${plansPath}/outpost-k3s-server`)).body;
  assert.equal(server.spec.version, 'v1.31.4+k3s1');
  assert.equal(server.spec.concurrency, 1);
  assert.equal(server.spec.cordon, true);
  const agent = (await kube.request('GET', `${plansPath}/outpost-k3s-agent`)).body;
  assert.deepEqual(agent.spec.prepare.args, ['prepare', 'outpost-k3s-server']);
  // in step with the agent, so each node's move is seen on its own however loaded the machine is
  await eventually('the first progress', async () => seen.length === 1);
  await playController(kube, 'k3s', undefined, (node) =>
    eventually(`the agent to see ${node} move`, async () => seen.some((p) => !p.behind.includes(node))),
  );
  const end = await followed;
  assert.equal(end.state, 'Conformant', JSON.stringify(end));
  assert.deepEqual(
    seen.map((p) => `${p.state} ${p.behind.join(',')}`),
    ['Upgrading server,till-1,till-2', 'Upgrading till-1,till-2', 'Upgrading till-2', 'Conformant '],
  );
});

test('a node the controller leaves behind makes the layer Behind by name at the deadline', async () => {
  const upgrade = new KubernetesLayerUpgrade({ cluster, pollMs: 100 });
  const ctl = new AbortController();
  const followed = upgrade.follow(target('v1.31.5+k3s1', 3), ctl.signal);
  await eventually('the Plans moved to v1.31.5', async () => {
    const r = await kube.request('GET', `${plansPath}/outpost-k3s-agent`);
    return r.body.spec?.version === 'v1.31.5+k3s1';
  });
  await playController(kube, 'k3s', 'till-2');
  const end = await followed;
  assert.equal(end.state, 'Behind');
  assert.deepEqual(end.behind, ['till-2']);
  assert.match(
    end.detail,
    /^node till-2 still runs v1\.31\.4\+k3s1 3 s after the upgrade to v1\.31\.5\+k3s1 began/,
  );
  // a restarted agent reads the start from the Plan: the deadline does not begin again
  const again = await new KubernetesLayerUpgrade({ cluster, pollMs: 100 }).pass(target('v1.31.5+k3s1', 3));
  assert.equal(again.state, 'Behind');
  assert.equal(again.startedAt, end.startedAt);
  // the controller gets there in the end: the same agent now sees the layer Conformant
  await reportKubelet(kube, 'till-2', 'v1.31.5+k3s1');
  assert.equal((await upgrade.pass(target('v1.31.5+k3s1', 3))).state, 'Conformant');
});
