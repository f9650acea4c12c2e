// Disconnected is not failed: with the hub gone, a restarted agent re-applies the desired state it
// saved, removes nothing, and tells staff on site what runs on its local page.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalStatus } from '../../src/agent/local-page.ts';
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
    const status = await eventually('the bundle to be Ready again', () => {
      const s = second.agent.status();
      return s.deployments.find((d) => d.bundle === 'till')?.state === 'Ready' ? s : undefined;
    });
    assert.equal(status.hubContact.reachable, false);

    // The local page answers with the hub gone: what runs, which revision, and reports waiting.
    const page = second.agent.localPageUrl!;
    const json = await eventually('reports to wait for the hub', async () => {
      const body = (await (await fetch(`${page}/status.json`)).json()) as LocalStatus;
      return body.outbox.pending > 0 ? body : undefined;
    });
    assert.equal(json.site, 'store-island');
    assert.equal(json.hubContact.reachable, false);
    assert.ok(
      Date.parse(json.hubContact.last ?? '') < Date.parse(json.startedAt),
      'the last contact, from before the restart, is remembered',
    );
    const till = json.deployments.find((d) => d.bundle === 'till');
    assert.equal(till?.state, 'Ready');
    assert.equal(till?.revision, 1);
    assert.equal(till?.runningDigest, till?.digest);
    const html = await (await fetch(page)).text();
    assert.match(html, /<h1>Site store-island<\/h1>/);
    assert.match(html, /unreachable/);
    assert.match(html, /<td>till<\/td><td>1<\/td>/);
    assert.match(html, /Reports waiting to be sent: <b>[1-9]\d*<\/b>/);
    assert.equal((await fetch(page, { method: 'POST' })).status, 405, 'read-only');

    // A disconnect never removes a workload: still there after several passes without the hub.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await kube.request('GET', cmPath)).status, 200);
  } finally {
    await second.stop();
  }
});
