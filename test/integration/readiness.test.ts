// Readiness on a real kube-apiserver, with the test playing the Deployment controller by writing status:
// a pessimistic bundle follows its objects' readiness, an optimistic one is done once applied, and a
// revision that misses its progress deadline is rolled back on the site to the last-known-good.

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
  agent = await startAgent(fleet, kube.kubeconfigPath, { name: 'store-ready', labels: { ready: 'yes' } });
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1);
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
});

const placement = { matchLabels: { ready: 'yes' } };

function deploymentManifest(name: string, image: string, replicas = 1) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
    },
  };
}

const deployPath = (name: string) => `/apis/apps/v1/namespaces/default/deployments/${name}`;

/** Writes what the Deployment controller would, for the generation the object has now. */
async function controllerReports(
  name: string,
  status: { replicas: number; updated: number; available: number },
) {
  const live = (await kube.request('GET', deployPath(name))).body;
  const r = await kube.request(
    'PATCH',
    `${deployPath(name)}/status`,
    {
      status: {
        observedGeneration: live.metadata.generation,
        replicas: status.replicas,
        updatedReplicas: status.updated,
        readyReplicas: status.available,
        availableReplicas: status.available,
      },
    },
    'application/merge-patch+json',
  );
  assert.equal(r.status, 200);
}

async function until(bundle: string, what: string, pred: (d: { state: string; message: string }) => boolean) {
  return eventually(`${bundle} ${what}`, async () => {
    const d = (await fleet.api.site('store-ready')).deployments.find((x) => x.bundle === bundle);
    return d && pred(d) ? d : undefined;
  });
}

test('a pessimistic bundle follows the readiness its controller reports, both ways', async () => {
  await fleet.api.applyBundle(bundleFile('till', placement, [deploymentManifest('till', 'till:1', 2)]));
  const unobserved = await until('till', 'to wait for the controller', (d) => d.state === 'NotReady');
  assert.equal(
    unobserved.message,
    'Deployment default/till: waiting for the controller to observe generation 1',
  );

  await controllerReports('till', { replicas: 2, updated: 2, available: 1 });
  await until(
    'till',
    'to wait for one replica',
    (d) => d.message === 'Deployment default/till: 1 of 2 replicas available',
  );

  await controllerReports('till', { replicas: 2, updated: 2, available: 2 });
  const ready = await until('till', 'to be Ready', (d) => d.state === 'Ready');
  assert.deepEqual(ready.counts, { total: 1, applied: 1, ready: 1 });

  // later trouble is NotReady; the revision was Ready once, so no deadline and no rollback applies
  await controllerReports('till', { replicas: 2, updated: 2, available: 0 });
  await until(
    'till',
    'to be NotReady again',
    (d) => d.state === 'NotReady' && /0 of 2 replicas available/.test(d.message),
  );
});

test('an optimistic bundle is Ready once applied, whatever its objects say', async () => {
  await fleet.api.applyBundle(
    bundleFile('kiosk', placement, [deploymentManifest('kiosk', 'kiosk:1')], {
      apply: { readiness: 'Optimistic' },
    }),
  );
  const ready = await until('kiosk', 'to be Ready', (d) => d.state === 'Ready');
  assert.deepEqual(ready.counts, { total: 1, applied: 1, ready: 0 });
  assert.match(ready.notReady[0]?.reason ?? '', /waiting for the controller/);
});

test('a revision that misses its progress deadline is rolled back to the last-known-good', async () => {
  const options = { apply: { progressDeadlineSeconds: 3, rollback: true } };
  const settings = (value: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `pos-${value}`, namespace: 'default' },
    data: { value },
  });
  await fleet.api.applyBundle(
    bundleFile('pos', placement, [deploymentManifest('pos', 'pos:1'), settings('base')], options),
  );
  await until('pos', 'revision 1 to wait', (d) => d.state === 'NotReady');
  await controllerReports('pos', { replicas: 1, updated: 1, available: 1 });
  const good = await until('pos', 'revision 1 to be Ready', (d) => d.state === 'Ready');
  const goodDigest = good.appliedDigest!;

  // Revision 2 never becomes ready: nothing plays the controller for it.
  await fleet.api.applyBundle(
    bundleFile(
      'pos',
      placement,
      [deploymentManifest('pos', 'pos:2'), settings('base'), settings('extra')],
      options,
    ),
  );
  await eventually('revision 2 to be applied', async () => {
    const live = (await kube.request('GET', deployPath('pos'))).body;
    return live.spec.template.spec.containers[0].image === 'pos:2';
  });
  const failed = await until('pos', 'revision 2 to fail', (d) => d.state === 'Failed');
  assert.match(
    failed.message,
    new RegExp(
      `^progress deadline exceeded after 3s \\(Deployment default/pos: waiting for the controller to observe generation 2\\); rolled back to ${goodDigest}$`,
    ),
  );
  // the hub hears of the failure before the site goes back, so the rollback may still be under way
  await eventually(
    'the rollback to finish',
    async () =>
      agent.agent.status().deployments.find((d) => d.bundle === 'pos')?.runningDigest === goodDigest,
  );
  const live = (await kube.request('GET', deployPath('pos'))).body;
  assert.equal(live.spec.template.spec.containers[0].image, 'pos:1', 'the site runs revision 1 again');
  assert.equal((await kube.request('GET', '/api/v1/namespaces/default/configmaps/pos-extra')).status, 404);
  const local = agent.agent.status().deployments.find((d) => d.bundle === 'pos');
  assert.equal(local?.runningDigest, goodDigest);
  assert.equal(local?.lastKnownGood, goodDigest);
  assert.notEqual(local?.digest, goodDigest, 'the hub still wants revision 2; the site says it could not');

  // The failed revision is not tried again while it stays desired.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(
    (await kube.request('GET', deployPath('pos'))).body.spec.template.spec.containers[0].image,
    'pos:1',
  );

  // A new revision goes ahead as usual.
  await fleet.api.applyBundle(
    bundleFile('pos', placement, [deploymentManifest('pos', 'pos:3'), settings('base')], options),
  );
  await eventually('revision 3 to be applied', async () => {
    const d = (await kube.request('GET', deployPath('pos'))).body;
    return d.spec.template.spec.containers[0].image === 'pos:3';
  });
  await controllerReports('pos', { replicas: 1, updated: 1, available: 1 });
  await until('pos', 'revision 3 to be Ready', (d) => d.state === 'Ready');
});

test('without rollback, a missed deadline fails and leaves the new revision in place', async () => {
  const options = { apply: { progressDeadlineSeconds: 2, rollback: false } };
  await fleet.api.applyBundle(
    bundleFile('scale', placement, [deploymentManifest('scale', 'scale:1')], options),
  );
  await until('scale', 'to wait', (d) => d.state === 'NotReady');
  await controllerReports('scale', { replicas: 1, updated: 1, available: 1 });
  await until('scale', 'revision 1 to be Ready', (d) => d.state === 'Ready');
  await fleet.api.applyBundle(
    bundleFile('scale', placement, [deploymentManifest('scale', 'scale:2')], options),
  );
  const failed = await until('scale', 'revision 2 to fail', (d) => d.state === 'Failed');
  assert.match(
    failed.message,
    /^progress deadline exceeded after 2s \(.*\); not rolled back: rollback is off$/,
  );
  assert.equal(
    (await kube.request('GET', deployPath('scale'))).body.spec.template.spec.containers[0].image,
    'scale:2',
  );

  // if it gets there after all, it is Ready
  await controllerReports('scale', { replicas: 1, updated: 1, available: 1 });
  await until('scale', 'revision 2 to be Ready late', (d) => d.state === 'Ready');
});
