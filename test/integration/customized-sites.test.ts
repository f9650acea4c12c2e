// One bundle, two sites with different labels and properties, a real kube-apiserver: the example
// point-of-sale bundle lands on each site customized for it — replicas from a property (a number),
// CPU from an overlay chosen by label, a canary image for one, the store's own config — and a site
// the bundle cannot be rendered for fails alone while the others keep going.

import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { readBundleFiles } from '../../src/cli/files.ts';
import { eventually } from '../support/eventually.ts';
import { type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kubeA: KubeFixture;
let kubeB: KubeFixture;
let fleet: TestHub;
const agents: RunningAgent[] = [];
const example = resolve(import.meta.dirname, '..', '..', 'examples', 'fleet', 'pos');

before(async () => {
  kubeA = await startKube();
  kubeB = await startKube();
  fleet = await startTestHub();
  agents.push(
    await startAgent(fleet, kubeA.kubeconfigPath, {
      name: 'store-west',
      labels: { region: 'west', format: 'max', channel: 'canary' },
    }),
    await startAgent(fleet, kubeB.kubeconfigPath, {
      name: 'store-east',
      labels: { region: 'east', format: 'mini' },
    }),
  );
  await eventually('both stores to register', async () => (await fleet.api.sites()).length === 2);
  await fleet.api.patchSite('store-west', {
    properties: { storeId: 'S-1001', lanes: 3, timezone: 'America/Los_Angeles' },
  });
  await fleet.api.patchSite('store-east', {
    properties: { storeId: 'S-2002', lanes: 1, timezone: 'America/New_York' },
  });
});

after(async () => {
  for (const a of agents) await a.stop();
  await fleet?.stop();
  await kubeA?.stop();
  await kubeB?.stop();
});

const deploymentPath = '/apis/apps/v1/namespaces/pos/deployments/till';
const configPath = '/api/v1/namespaces/pos/configmaps/till-config';

async function live(kube: KubeFixture, path: string) {
  return eventually(`${path} to exist`, async () => {
    const r = await kube.request('GET', path);
    return r.status === 200 ? r.body : undefined;
  });
}

test('one bundle lands on two sites customized for each', async () => {
  const applied = await fleet.api.applyBundle(await readBundleFiles(example));
  assert.deepEqual([applied.revision, applied.targeted, applied.failed], [1, 2, undefined]);

  const west = await live(kubeA, deploymentPath);
  const east = await live(kubeB, deploymentPath);
  assert.equal(west.spec.replicas, 3);
  assert.equal(east.spec.replicas, 1);
  const [wc, ec] = [west.spec.template.spec.containers[0], east.spec.template.spec.containers[0]];
  assert.equal(wc.image, 'registry.example.com/pos/till:1.5.0-rc.1', 'the canary overlay');
  assert.equal(ec.image, 'registry.example.com/pos/till:1.4.2');
  assert.equal(wc.resources.requests.cpu, '1', 'the format=max overlay');
  assert.equal(ec.resources.requests.cpu, '250m');
  assert.deepEqual(wc.env, [{ name: 'STORE_NAME', value: 'store-west' }]);
  assert.deepEqual((await live(kubeA, configPath)).data, {
    'store-id': 'S-1001',
    timezone: 'America/Los_Angeles',
    'receipt-header': 'Store S-1001, west region',
    'log-level': 'debug',
  });
  assert.deepEqual((await live(kubeB, configPath)).data, {
    'store-id': 'S-2002',
    timezone: 'America/New_York',
    'receipt-header': 'Store S-2002, east region',
    'log-level': 'info',
  });
  const deployments = await Promise.all(
    ['store-west', 'store-east'].map(
      async (s) => (await fleet.api.site(s)).deployments.find((d) => d.bundle === 'pos')!,
    ),
  );
  assert.notEqual(deployments[0]!.desiredDigest, deployments[1]!.desiredDigest);
});

test('a site whose property goes missing fails alone and keeps running what it had', async () => {
  const before = (await fleet.api.site('store-east')).deployments.find((d) => d.bundle === 'pos')!;
  await fleet.api.patchSite('store-east', {
    properties: { storeId: 'S-2002', timezone: 'America/New_York' },
  });
  await fleet.api.patchSite('store-west', {
    properties: { storeId: 'S-1001', lanes: 4, timezone: 'America/Los_Angeles' },
  });
  const failed = await eventually('store-east to fail', async () => {
    const d = (await fleet.api.site('store-east')).deployments.find((x) => x.bundle === 'pos');
    return d?.state === 'Failed' ? d : undefined;
  });
  assert.match(failed.message, /site store-east has no property "lanes"/);
  assert.equal(failed.desiredDigest, before.desiredDigest, 'still the last good rendering');
  await eventually('store-west to follow its own change', async () => {
    const r = await kubeA.request('GET', deploymentPath);
    return r.body?.spec?.replicas === 4;
  });
  assert.equal(
    (await kubeB.request('GET', deploymentPath)).body.spec.replicas,
    1,
    'store-east was not touched',
  );
});
