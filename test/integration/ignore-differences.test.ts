// spec.apply.ignoreDifferences on a real kube-apiserver with a real agent: an autoscaler's change to an
// ignored field (a Deployment's replicas) is neither reported as drift nor put back, the agent stops
// owning that field (without it falling back to its default), while a change to any other field is
// still Drifted and put back; fields that named managers own are left to them the same way.

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
  agent = await startAgent(fleet, kube.kubeconfigPath, {
    name: 'store-hpa',
    labels: { hpa: 'yes' },
    driftCheckMs: 500,
  });
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1);
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
});

const placement = { matchLabels: { hpa: 'yes' } };
const deploymentOf = (name: string, replicas: number, image = 'registry.example.com/till:1') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'till', image }] },
    },
  },
});
const path = (name: string) => `/apis/apps/v1/namespaces/default/deployments/${name}`;
const ignoreReplicas = { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] };
// Optimistic: no Deployment controller runs here, and readiness is not what these tests are about
const apply = (ignoreDifferences?: unknown[]) => ({
  readiness: 'Optimistic',
  ...(ignoreDifferences ? { ignoreDifferences } : {}),
});

async function live(name: string) {
  return (await kube.request('GET', path(name))).body;
}

/** The fields a manager owns in the live object's managedFields, as JSON text. */
function ownedBy(
  obj: { metadata: { managedFields?: Array<{ manager: string; fieldsV1?: unknown }> } },
  manager: string,
) {
  return JSON.stringify(
    obj.metadata.managedFields?.filter((m) => m.manager === manager).map((m) => m.fieldsV1) ?? [],
  );
}

async function bundleState(bundle: string) {
  return agent.agent.status().deployments.find((d) => d.bundle === bundle);
}

/** Watches the agent's view of a bundle for a while; fails at the first Drifted. */
async function neverDrifted(bundle: string, ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const d = await bundleState(bundle);
    assert.notEqual(d?.state, 'Drifted', `reported Drifted: ${d?.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("an autoscaler's replicas are left alone; the agent stops owning them and still corrects the rest", async () => {
  await fleet.api.applyBundle(
    bundleFile('till', placement, [deploymentOf('till', 2)], { apply: apply([ignoreReplicas]) }),
  );
  await eventually('till to be Ready', async () => (await bundleState('till'))?.state === 'Ready');
  const created = await live('till');
  assert.equal(created.spec.replicas, 2, 'created with the manifest value, not reset to the default');
  assert.doesNotMatch(ownedBy(created, 'outpost'), /f:replicas/, 'the agent no longer owns replicas');
  assert.match(ownedBy(created, 'outpost'), /f:image/, 'the agent owns what it sets');

  // the autoscaler scales through the scale subresource, as the HPA controller does
  const scaled = await kube.request(
    'PATCH',
    `${path('till')}/scale?fieldManager=horizontal-pod-autoscaler`,
    { spec: { replicas: 5 } },
    'application/merge-patch+json',
  );
  assert.equal(scaled.status, 200);
  await neverDrifted('till', 3000);
  assert.equal((await live('till')).spec.replicas, 5, 'not put back');

  // another field changed on the site is still drift, and is put back
  const edited = await kube.request(
    'PATCH',
    `${path('till')}?fieldManager=kubectl-edit`,
    {
      spec: {
        template: { spec: { containers: [{ name: 'till', image: 'registry.example.com/till:evil' }] } },
      },
    },
    'application/strategic-merge-patch+json',
  );
  assert.equal(edited.status, 200);
  await eventually(
    'the image to be put back',
    async () => (await live('till')).spec.template.spec.containers[0].image === 'registry.example.com/till:1',
  );
  assert.equal((await live('till')).spec.replicas, 5, 'correcting drift left the replicas alone');

  // a new revision leaves them alone too
  await fleet.api.applyBundle(
    bundleFile('till', placement, [deploymentOf('till', 2, 'registry.example.com/till:2')], {
      apply: apply([ignoreReplicas]),
    }),
  );
  await eventually(
    'revision 2 to be applied',
    async () => (await live('till')).spec.template.spec.containers[0].image === 'registry.example.com/till:2',
  );
  assert.equal((await live('till')).spec.replicas, 5);
  await eventually('till to be Ready again', async () => (await bundleState('till'))?.state === 'Ready');
});

test('without the rule the agent sets the field again, taking it back from its own handover', async () => {
  await fleet.api.applyBundle(
    bundleFile('kiosk', placement, [deploymentOf('kiosk', 2)], { apply: apply([ignoreReplicas]) }),
  );
  await eventually('kiosk to be Ready', async () => (await bundleState('kiosk'))?.state === 'Ready');
  assert.match(ownedBy(await live('kiosk'), 'outpost-handover'), /f:replicas/);
  await fleet.api.applyBundle(bundleFile('kiosk', placement, [deploymentOf('kiosk', 3)], { apply: apply() }));
  await eventually(
    'the replicas to be the bundle’s again',
    async () => (await live('kiosk')).spec.replicas === 3,
  );
  assert.match(ownedBy(await live('kiosk'), 'outpost'), /f:replicas/);
  await eventually('kiosk to be Ready', async () => (await bundleState('kiosk'))?.state === 'Ready');
});

test('fields a named manager owns are its own: not drift, not put back; other edits are', async () => {
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'prices', namespace: 'default' },
    data: { currency: 'EUR', rate: '1.00' },
  };
  await fleet.api.applyBundle(
    bundleFile('prices', placement, [configMap], {
      apply: apply([{ kind: 'ConfigMap', name: 'prices', managedFieldsManagers: ['rate-operator'] }]),
    }),
  );
  await eventually('prices to be Ready', async () => (await bundleState('prices'))?.state === 'Ready');
  const cm = '/api/v1/namespaces/default/configmaps/prices';
  const operator = await kube.request(
    'PATCH',
    `${cm}?fieldManager=rate-operator&force=true`,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'prices' }, data: { rate: '1.07' } },
    'application/apply-patch+yaml',
  );
  assert.equal(operator.status, 200);
  await neverDrifted('prices', 3000);
  assert.equal((await kube.request('GET', cm)).body.data.rate, '1.07');

  await kube.request(
    'PATCH',
    `${cm}?fieldManager=kubectl-edit`,
    { data: { currency: 'USD' } },
    'application/merge-patch+json',
  );
  await eventually(
    'the currency to be put back',
    async () => (await kube.request('GET', cm)).body.data.currency === 'EUR',
  );
  assert.equal((await kube.request('GET', cm)).body.data.rate, '1.07', "the operator's field stays");
});
