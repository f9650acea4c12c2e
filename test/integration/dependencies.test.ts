// dependsOn on a real kube-apiserver with a real agent: a bundle holding a custom resource waits, and
// says so, until the bundle with its CRD (and the operator Deployment that serves it) is Ready on the
// site; then it applies. Without the wait the custom resource would fail with "no matches for kind".

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../support/eventually.ts';
import { bundleFile, type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kube: KubeFixture;
let fleet: TestHub;
let agent: RunningAgent;

before(async () => {
  kube = await startKube();
  fleet = await startTestHub();
  agent = await startAgent(fleet, kube.kubeconfigPath, { name: 'store-deps', labels: { pos: 'yes' } });
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1);
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
});

const crd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'tills.pos.example.com' },
  spec: {
    group: 'pos.example.com',
    scope: 'Namespaced',
    names: { plural: 'tills', singular: 'till', kind: 'Till' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: { spec: { type: 'object', properties: { lanes: { type: 'integer' } } } },
          },
        },
      },
    ],
  },
};
const operatorNamespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'pos-system' } };
const operatorDeployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'till-operator', namespace: 'pos-system' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'till-operator' } },
    template: {
      metadata: { labels: { app: 'till-operator' } },
      spec: { containers: [{ name: 'operator', image: 'registry.example.com/till-operator:1' }] },
    },
  },
};
const till = {
  apiVersion: 'pos.example.com/v1',
  kind: 'Till',
  metadata: { name: 'lane-1', namespace: 'default' },
  spec: { lanes: 4 },
};
const tillPath = '/apis/pos.example.com/v1/namespaces/default/tills/lane-1';
const operatorPath = '/apis/apps/v1/namespaces/pos-system/deployments/till-operator';

async function deployment(bundle: string) {
  return (await fleet.api.site('store-deps')).deployments.find((d) => d.bundle === bundle);
}

test('a custom resource waits for the bundle with its CRD to be Ready on the site, then applies', async () => {
  // the CRD bundle exists but is placed elsewhere: the bundle that needs it waits and says so
  await fleet.api.applyBundle(
    bundleFile('pos-crds', { matchLabels: { crds: 'yes' } }, [crd, operatorNamespace, operatorDeployment]),
  );
  await fleet.api.applyBundle(
    bundleFile('pos', { matchLabels: { pos: 'yes' } }, [till], { dependsOn: ['pos-crds'] }),
  );
  const unplaced = await eventually('pos to wait for pos-crds', async () => {
    const d = await deployment('pos');
    return d?.message.startsWith('waiting for pos-crds') ? d : undefined;
  });
  assert.equal(unplaced.state, 'Applying');
  assert.equal(unplaced.message, 'waiting for pos-crds (not placed on this site)');

  // placed, its CRD established, but its operator not yet available: still waiting
  await fleet.api.patchSite('store-deps', { labels: { pos: 'yes', crds: 'yes' } });
  await eventually(
    'the operator Deployment to be applied',
    async () => (await kube.request('GET', operatorPath)).status === 200,
  );
  const notReady = await eventually('pos to wait for pos-crds to be Ready', async () => {
    const d = await deployment('pos');
    return d?.message === 'waiting for pos-crds (NotReady)' ? d : undefined;
  });
  assert.equal(notReady.state, 'Applying');
  assert.equal((await deployment('pos-crds'))?.state, 'NotReady');
  assert.equal(
    (await kube.request('GET', tillPath)).status,
    404,
    'the custom resource is not applied meanwhile',
  );

  // the test plays the Deployment controller: the operator becomes available, pos-crds Ready, pos goes
  const live = (await kube.request('GET', operatorPath)).body;
  const marked = await kube.request(
    'PATCH',
    `${operatorPath}/status`,
    {
      status: {
        observedGeneration: live.metadata.generation,
        replicas: 1,
        updatedReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
      },
    },
    'application/merge-patch+json',
  );
  assert.equal(marked.status, 200);
  await eventually('pos to be Ready', async () => (await deployment('pos'))?.state === 'Ready');
  assert.equal((await deployment('pos-crds'))?.state, 'Ready');
  assert.equal((await kube.request('GET', tillPath)).body.spec.lanes, 4);
});
