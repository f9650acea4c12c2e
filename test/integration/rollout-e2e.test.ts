// One rollout end to end over two sites, each a real agent on its own real kube-apiserver: the canary
// store runs the new revision while the other still runs the old one, then both, and the rollout ends
// Succeeded. The hub's own controller drives it on its timer; nothing is ticked by hand.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../support/eventually.ts';
import { bundleFile, type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kubeA: KubeFixture;
let kubeB: KubeFixture;
let fleet: TestHub;
const agents: RunningAgent[] = [];

before(async () => {
  [kubeA, kubeB] = await Promise.all([startKube(), startKube()]);
  fleet = await startTestHub();
  agents.push(await startAgent(fleet, kubeA.kubeconfigPath, { name: 'store-a', labels: { app: 'pos' } }));
  agents.push(await startAgent(fleet, kubeB.kubeconfigPath, { name: 'store-b', labels: { app: 'pos' } }));
  await eventually('both stores to register', async () => (await fleet.api.sites()).length === 2);
});

after(async () => {
  for (const a of agents) await a.stop();
  await fleet?.stop();
  await Promise.all([kubeA?.stop(), kubeB?.stop()]);
});

const path = '/api/v1/namespaces/default/configmaps/till';
const till = (version: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'till', namespace: 'default' },
  data: { version },
});
const versionOn = async (kube: KubeFixture) => (await kube.request('GET', path)).body?.data?.version;

test('a rollout moves the canary store first, then the rest, on real clusters', {
  timeout: 120_000,
}, async () => {
  await fleet.api.applyBundle(bundleFile('pos', { matchLabels: { app: 'pos' } }, [till('v1')]));
  await eventually(
    'v1 on both stores',
    async () => (await versionOn(kubeA)) === 'v1' && (await versionOn(kubeB)) === 'v1',
    {
      timeoutMs: 30_000,
    },
  );

  await fleet.api.applyBundle(
    bundleFile('pos', { matchLabels: { app: 'pos' } }, [till('v2')], {
      rollout: {
        waves: [
          { name: 'canary', sites: ['store-a'] },
          { name: 'rest', percent: 100 },
        ],
        maxConcurrent: 1,
        bakeSeconds: 4,
      },
    }),
  );
  await eventually('the canary store to run v2', async () => (await versionOn(kubeA)) === 'v2', {
    timeoutMs: 30_000,
  });
  assert.equal(await versionOn(kubeB), 'v1', 'the other store waits for its wave');

  await eventually('the second store to run v2', async () => (await versionOn(kubeB)) === 'v2', {
    timeoutMs: 60_000,
  });
  const [rollout] = await fleet.api.rollouts('pos');
  assert.ok(rollout);
  const done = await eventually(
    'the rollout to succeed',
    async () => {
      const d = await fleet.api.rollout(rollout.id);
      return d.phase === 'Succeeded' ? d : undefined;
    },
    { timeoutMs: 30_000 },
  );
  assert.equal(done.phase, 'Succeeded');
  for (const name of ['store-a', 'store-b']) {
    const d = (await fleet.api.site(name)).deployments.find((x) => x.bundle === 'pos');
    assert.equal(d?.desiredRevision, 2, name);
    assert.equal(d?.state, 'Ready', name);
  }
});
