// The agent through trouble, on real parts: kube-apiserver restarted in the middle of an apply, and a
// network partition between site and hub during which reports queue on disk (across an agent restart)
// and then reach the hub in order, each accepted once, even when an answer is lost on the way back.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ClusterError } from '../../src/agent/apply/cluster.ts';
import type { KubeCluster } from '../../src/agent/kube/client.ts';
import type { KubeObject } from '../../src/model/manifest.ts';
import { aroundCluster } from '../support/cluster.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startAgent, startTestHub, type TestHub, via } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { startPartitionProxy } from '../support/partition.ts';

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

const configMap = (name: string, data: Record<string, string> = { v: '1' }) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
});

async function deploymentAt(site: string, bundle: string) {
  return (await fleet.api.site(site)).deployments.find((d) => d.bundle === bundle);
}

test('an apply cut short by a kube-apiserver restart completes once the server is back', {
  timeout: 120_000,
}, async () => {
  let writes = 0;
  let failuresSeen = 0;
  let restart: Promise<void> | undefined;
  let client: KubeCluster | undefined;
  const agent = await startAgent(fleet, kube.kubeconfigPath, {
    name: 'store-restart',
    labels: { restart: 'yes' },
    wrapCluster: (real) => {
      client = real;
      return aroundCluster(real, {
        apply: async (obj: KubeObject, opts) => {
          // halfway through the first real apply, the API server goes down for a restart
          if (!opts.dryRun && ++writes === 40) restart = kube.restartApiserver();
          try {
            return await real.apply(obj, opts);
          } catch (e) {
            if (e instanceof ClusterError && e.transient) failuresSeen++;
            throw e;
          }
        },
      });
    },
  });
  try {
    await eventually(
      'the site to register',
      async () => (await deploymentAt('store-restart', 'x')) === undefined,
    );
    const objects = Array.from({ length: 80 }, (_, i) => configMap(`bulk-${i}`));
    await fleet.api.applyBundle(bundleFile('bulk', { matchLabels: { restart: 'yes' } }, objects));
    const ready = await eventually(
      'the bundle to be Ready after the restart',
      async () => {
        const d = await deploymentAt('store-restart', 'bulk');
        return d?.state === 'Ready' ? d : undefined;
      },
      { timeoutMs: 90_000 },
    );
    assert.ok(restart, 'the restart happened during the apply');
    await restart;
    // the restart reached the apply: either a call failed through to the engine, or the client had to
    // retry one (a short restart is absorbed by the client's own retries)
    assert.ok(failuresSeen + (client?.retried ?? 0) > 0, 'the apply did run into the restart');
    assert.deepEqual(ready.counts, { total: 80, applied: 80, ready: 80 });
    const list = await kube.request(
      'GET',
      '/api/v1/namespaces/default/configmaps?labelSelector=outpost.dev/bundle=bulk',
    );
    assert.equal(list.body.items.length, 80);
  } finally {
    await agent.stop();
  }
});

test('reports queued during a partition reach the hub in order and once each, across an agent restart', async () => {
  const proxy = await startPartitionProxy(fleet.hub.url, fleet.hub.ctx);
  const through = via(fleet, proxy.url);
  const opts = { name: 'store-partition', labels: { partition: 'yes' } };
  let agent = await startAgent(through, kube.kubeconfigPath, opts);
  const stateDir = agent.stateDir;
  try {
    await fleet.api.applyBundle(
      bundleFile('orders', { matchLabels: { partition: 'yes' } }, [configMap('orders', { open: 'yes' })], {
        apply: { correctDrift: false },
      }),
    );
    await eventually(
      'orders to be Ready',
      async () => (await deploymentAt('store-partition', 'orders'))?.state === 'Ready',
    );
    const lastBefore = Math.max(...proxy.reports.map((r) => r.seq));

    proxy.cut();
    const edit = async (open: string) => {
      const r = await kube.request(
        'PATCH',
        '/api/v1/namespaces/default/configmaps/orders?fieldManager=kubectl-edit',
        { data: { open } },
        'application/merge-patch+json',
      );
      assert.equal(r.status, 200);
    };
    const localState = () => agent.agent.status().deployments.find((d) => d.bundle === 'orders')?.state;
    await edit('no');
    await eventually('the agent to see the drift', () => localState() === 'Drifted');
    await edit('yes');
    await eventually('the agent to see it fixed', () => localState() === 'Ready');
    const queued = await eventually('reports to wait in the outbox', () => {
      const n = agent.agent.status().outbox.pending;
      return n >= 2 ? n : undefined;
    });
    assert.equal(
      (await deploymentAt('store-partition', 'orders'))?.state,
      'Ready',
      'the hub heard nothing yet',
    );

    // The agent restarts while still cut off; what waits is on disk.
    await agent.stop();
    agent = await startAgent(through, kube.kubeconfigPath, { ...opts, stateDir });
    await eventually(
      'the restarted agent to find the queued reports',
      () => agent.agent.status().outbox.pending >= queued,
    );
    await edit('no');
    await eventually('the restarted agent to see new drift', () => localState() === 'Drifted');

    // The network comes back, but the answer to the first report sent is lost on its way.
    proxy.loseNextReportAnswer();
    proxy.heal();
    await eventually('the outbox to drain', () => agent.agent.status().outbox.pending === 0);
    const drifted = await eventually('the hub to have the latest state', async () => {
      const d = await deploymentAt('store-partition', 'orders');
      return d?.state === 'Drifted' ? d : undefined;
    });
    assert.match(drifted.message, /data\.open \(want "yes", got "no"\)/);

    const after = proxy.reports.filter((r) => r.seq > lastBefore);
    const seqs = after.map((r) => r.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'sent in order',
    );
    assert.equal(after[0]?.accepted, undefined, 'the first answer was lost…');
    assert.equal(after[1]?.seq, after[0]?.seq, '…so the same report went again…');
    assert.equal(after[1]?.accepted, false, '…and the hub knew it already');
    const accepted = after.filter((r) => r.accepted !== false).map((r) => r.seq);
    assert.equal(new Set(accepted).size, accepted.length, 'no report taken twice');
    const distinct = [...new Set(seqs)];
    assert.deepEqual(
      distinct,
      Array.from({ length: distinct.length }, (_, i) => lastBefore + 1 + i),
      'none missing in between',
    );
    assert.ok(
      after.some((r) => r.states.orders === 'Drifted') && after.some((r) => r.states.orders === 'Ready'),
      'the transitions made while cut off arrived, not only the last state',
    );
    const site = await fleet.hub.ctx.store.db
      .selectFrom('sites')
      .select('last_report_seq')
      .where('name', '=', 'store-partition')
      .executeTakeFirstOrThrow();
    assert.equal(Number(site.last_report_seq), Math.max(...seqs));
  } finally {
    await agent.stop();
    await proxy.close();
  }
});

test('a reinstalled agent (state lost, same machine) is the same site and its reports are taken', async () => {
  const opts = { name: 'store-reinstalled', labels: { reinstall: 'yes' } };
  const placement = { matchLabels: { reinstall: 'yes' } };
  const first = await startAgent(fleet, kube.kubeconfigPath, opts);
  await fleet.api.applyBundle(bundleFile('menu-board', placement, [configMap('menu-board', { v: '1' })]));
  await eventually(
    'revision 1 to be Ready',
    async () => (await deploymentAt(opts.name, 'menu-board'))?.state === 'Ready',
  );
  const siteId = (await fleet.api.site(opts.name)).id;
  await first.stop();
  // a site that has been reporting for a long while
  await fleet.hub.ctx.store.db
    .updateTable('sites')
    .set({ last_report_seq: 10_000 })
    .where('name', '=', opts.name)
    .execute();

  const second = await startAgent(fleet, kube.kubeconfigPath, opts); // a fresh state directory
  try {
    await fleet.api.applyBundle(bundleFile('menu-board', placement, [configMap('menu-board', { v: '2' })]));
    const d = await eventually('the hub to take the new agent’s reports', async () => {
      const x = await deploymentAt(opts.name, 'menu-board');
      return x?.desiredRevision === 2 && x.state === 'Ready' ? x : undefined;
    });
    assert.equal(d.appliedDigest, d.desiredDigest);
    // registering again (same machine id) restarted the site's report sequence at the hub
    assert.equal((await fleet.api.site(opts.name)).id, siteId);
    assert.ok(second.agent.status().outbox.nextSeq < 10_000);
  } finally {
    await second.stop();
  }
});
