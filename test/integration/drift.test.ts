// Drift on a real kube-apiserver: a change made on the site is seen through the agent's own watch (the
// periodic check is set far out here), reported as Drifted with the fields that differ, and put back
// when the bundle corrects drift; left alone, and reported until fixed, when it does not.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../support/eventually.ts';
import {
  bundleFile,
  type RunningAgent,
  startAgent,
  startTestHub,
  type TestHub,
  via,
} from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { type PartitionProxy, startPartitionProxy } from '../support/partition.ts';

let kube: KubeFixture;
let fleet: TestHub;
let proxy: PartitionProxy;
let agent: RunningAgent;

before(async () => {
  kube = await startKube();
  fleet = await startTestHub();
  proxy = await startPartitionProxy(fleet.hub.url, fleet.hub.ctx);
  agent = await startAgent(via(fleet, proxy.url), kube.kubeconfigPath, {
    name: 'store-drift',
    labels: { drift: 'yes' },
    driftCheckMs: 600_000,
  });
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1);
});

after(async () => {
  await agent?.stop();
  await proxy?.close();
  await fleet?.stop();
  await kube?.stop();
});

const placement = { matchLabels: { drift: 'yes' } };
const configMap = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
});
const cmPath = (name: string) => `/api/v1/namespaces/default/configmaps/${name}`;

async function deployment(bundle: string) {
  return (await fleet.api.site('store-drift')).deployments.find((d) => d.bundle === bundle);
}

/** What `kubectl edit` does: an update by another field manager. */
async function editOnSite(name: string, data: Record<string, string>) {
  const r = await kube.request(
    'PATCH',
    `${cmPath(name)}?fieldManager=kubectl-edit`,
    { data },
    'application/merge-patch+json',
  );
  assert.equal(r.status, 200);
}

test('an edit on the site is reported as Drifted with the field that differs, then put back', async () => {
  await fleet.api.applyBundle(
    bundleFile('menu', placement, [configMap('menu', { dish: 'soup', price: '4' })]),
  );
  await eventually('menu to be Ready', async () => (await deployment('menu'))?.state === 'Ready');

  await editOnSite('menu', { dish: 'pizza' });

  await eventually(
    'the edit to be undone',
    async () => (await kube.request('GET', cmPath('menu'))).body.data.dish === 'soup',
  );
  const drifted = await eventually('a Drifted report to reach the hub', () =>
    proxy.reports.flatMap((r) => r.deployments).find((d) => d.bundle === 'menu' && d.state === 'Drifted'),
  );
  assert.deepEqual(drifted.drift, [
    { object: 'ConfigMap default/menu', path: 'data.dish', want: '"soup"', got: '"pizza"' },
  ]);
  assert.equal(drifted.message, 'drifted: ConfigMap default/menu data.dish (want "soup", got "pizza")');
  await eventually(
    'the hub to see menu Ready again',
    async () => (await deployment('menu'))?.state === 'Ready',
  );
  assert.equal((await kube.request('GET', cmPath('menu'))).body.data.price, '4');
});

test('an object deleted on the site is recreated', async () => {
  assert.equal((await kube.request('DELETE', cmPath('menu'))).status, 200);
  const back = await eventually('menu to be recreated', async () => {
    const r = await kube.request('GET', cmPath('menu'));
    return r.status === 200 ? r.body : undefined;
  });
  assert.equal(back.data.dish, 'soup');
  assert.ok(
    proxy.reports.some((r) =>
      r.deployments.some(
        (d) => d.bundle === 'menu' && d.message === 'drifted: ConfigMap default/menu was deleted',
      ),
    ),
  );
});

test('with correctDrift off, drift stays, is reported until someone fixes it, and clears then', async () => {
  await fleet.api.applyBundle(
    bundleFile('ledger', placement, [configMap('ledger', { limit: '100' })], {
      apply: { correctDrift: false },
    }),
  );
  await eventually('ledger to be Ready', async () => (await deployment('ledger'))?.state === 'Ready');

  await editOnSite('ledger', { limit: '900' });
  const seen = await eventually('the hub to show ledger Drifted', async () => {
    const d = await deployment('ledger');
    return d?.state === 'Drifted' ? d : undefined;
  });
  assert.equal(seen.message, 'drifted: ConfigMap default/ledger data.limit (want "100", got "900")');
  const local = agent.agent.status().deployments.find((d) => d.bundle === 'ledger');
  assert.deepEqual(local?.drift, [
    { object: 'ConfigMap default/ledger', path: 'data.limit', want: '"100"', got: '"900"' },
  ]);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await kube.request('GET', cmPath('ledger'))).body.data.limit, '900', 'not corrected');
  assert.equal((await deployment('ledger'))?.state, 'Drifted');

  await editOnSite('ledger', { limit: '100' });
  await eventually(
    'ledger to be Ready once fixed by hand',
    async () => (await deployment('ledger'))?.state === 'Ready',
  );
});

test('without a watch, the periodic check finds drift too', async () => {
  const polling = await startAgent(fleet, kube.kubeconfigPath, {
    name: 'store-polling',
    labels: { polling: 'yes' },
    watch: false,
    driftCheckMs: 500,
  });
  try {
    await fleet.api.applyBundle(
      bundleFile('signage', { matchLabels: { polling: 'yes' } }, [configMap('signage', { text: 'open' })]),
    );
    const ready = async () =>
      (await fleet.api.site('store-polling')).deployments.find((d) => d.bundle === 'signage')?.state ===
      'Ready';
    await eventually('signage to be Ready', ready);
    await editOnSite('signage', { text: 'closed' });
    await eventually(
      'the edit to be undone',
      async () => (await kube.request('GET', cmPath('signage'))).body.data.text === 'open',
    );
  } finally {
    await polling.stop();
  }
});
