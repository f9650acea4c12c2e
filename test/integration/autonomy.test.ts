// Disconnected is not failed: with the hub gone, a restarted agent re-applies the desired state it
// saved, and removes nothing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kube: KubeFixture;
let fleet: TestHub;

before(async () => {
  kube = await startKube();
  fleet = await startTestHub();
});

after(async () => {
  await fleet?.stop();
  await kube?.stop();
});

const cmPath = '/api/v1/namespaces/default/configmaps/till-config';

test('with the hub unreachable, a restarted agent enforces its last desired state', async () => {
  const first = await startAgent(fleet, kube.kubeconfigPath, {
    name: 'store-island',
    labels: { island: 'yes' },
  });
  await eventually('registration', async () => (await fleet.api.sites()).length === 1);
  await fleet.api.applyBundle(
    bundleFile('till', { matchLabels: { island: 'yes' } }, [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'till-config', namespace: 'default' },
        data: { currency: 'EUR' },
      },
    ]),
  );
  await eventually(
    'the bundle to be Ready',
    async () => (await fleet.api.site('store-island')).deployments[0]?.state === 'Ready',
  );
  await first.stop();

  // The hub goes away for good, and someone deletes the object on the site.
  await fleet.hub.close();
  assert.equal((await kube.request('DELETE', cmPath)).status, 200);

  const second = await startAgent(fleet, kube.kubeconfigPath, {
    name: 'store-island',
    stateDir: first.stateDir,
  });
  try {
    const cm = await eventually('the agent to restore the object from its saved state', async () => {
      const r = await kube.request('GET', cmPath);
      return r.status === 200 ? r.body : undefined;
    });
    assert.equal(cm.data.currency, 'EUR');
    const status = second.agent.status();
    assert.equal(status.deployments.find((d) => d.bundle === 'till')?.state, 'Ready');
  } finally {
    await second.stop();
  }
});
