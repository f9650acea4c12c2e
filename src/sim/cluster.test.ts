import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WatchEvent } from '../agent/apply/cluster.ts';
import { ClusterError } from '../agent/apply/cluster.ts';
import { readinessOf } from '../agent/apply/readiness.ts';
import { KubernetesLayerUpgrade } from '../agent/host-layers/kubernetes-layer.ts';
import { NodeInventory } from '../agent/node-inventory.ts';
import type { KubeObject } from '../model/manifest.ts';
import { type SimulatedBehaviour, SimulatedCluster, type SimulatedClusterOptions } from './cluster.ts';
import { storeNodes } from './nodes.ts';

/** A cluster on a clock the test moves; sleeping takes a real moment so watches can wait. */
function simulated(
  behaviour: SimulatedBehaviour = {},
  seed = 1,
  nodes: Pick<SimulatedClusterOptions, 'nodes' | 'failingUpgrade'> = {},
) {
  const clock = { now: 1_000_000 };
  const cluster = new SimulatedCluster({
    ...nodes,
    seed,
    name: 'store-0001',
    behaviour,
    now: () => clock.now,
    sleep: (_ms, signal) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2);
        signal?.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      }),
  });
  return { cluster, clock };
}

const apply = { fieldManager: 'outpost', force: false };
const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } };
const configMap = (data: Record<string, string>, labels: Record<string, string> = { app: 'till' }) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'menu', namespace: 'shop', labels },
  data,
});
const deployment = (image: string, replicas = 2): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'till', namespace: 'shop' },
  spec: { replicas, template: { spec: { containers: [{ name: 'till', image }] } } },
});
const cmRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'menu', namespace: 'shop' };
const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'till', namespace: 'shop' };

test('apply stores an object with server fields, get and list read it back, delete removes it', async () => {
  const { cluster } = simulated();
  assert.deepEqual(await cluster.resourceOf('v1', 'ConfigMap'), { name: 'configmaps', namespaced: true });
  await assert.rejects(cluster.apply(configMap({ a: '1' }), apply), /namespaces "shop" not found/);
  await cluster.apply(ns, apply);
  const created = await cluster.apply(configMap({ a: '1' }), apply);
  assert.equal(created.metadata.generation, 1);
  assert.match(String(created.metadata.uid), /^[0-9a-f-]{36}$/);
  assert.deepEqual(
    (created.metadata.managedFields as Array<{ manager: string; operation: string }>).map(
      (f) => `${f.manager}/${f.operation}`,
    ),
    ['outpost/Apply'],
  );
  const updated = await cluster.apply(configMap({ a: '2' }), apply);
  assert.equal(updated.metadata.generation, 2);
  assert.equal(updated.metadata.uid, created.metadata.uid);
  assert.ok(Number(updated.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
  const same = await cluster.apply(configMap({ a: '2' }), apply);
  assert.equal(
    same.metadata.resourceVersion,
    updated.metadata.resourceVersion,
    'a no-op apply writes nothing',
  );

  assert.deepEqual((await cluster.get(cmRef))?.data, { a: '2' });
  const type = { apiVersion: 'v1', kind: 'ConfigMap' };
  assert.equal((await cluster.list(type, { labelSelector: 'app' })).items.length, 1);
  assert.equal((await cluster.list(type, { labelSelector: 'app=till' })).items.length, 1);
  assert.equal((await cluster.list(type, { labelSelector: 'app=other' })).items.length, 0);
  assert.equal((await cluster.list(type, { labelSelector: 'missing' })).items.length, 0);

  assert.equal(await cluster.patchMetadata(cmRef, { labels: { app: null } }, 'outpost'), true);
  assert.deepEqual((await cluster.get(cmRef))?.metadata.labels, {});
  assert.equal(await cluster.delete(cmRef), true);
  assert.equal(await cluster.get(cmRef), undefined);
  assert.equal(await cluster.delete(cmRef), false);
  assert.equal(await cluster.patchMetadata(cmRef, { labels: {} }, 'outpost'), false);
});

test('list and watch select by the equality-based selector forms the API server reads', async () => {
  const { cluster } = simulated();
  await cluster.apply(ns, apply);
  await cluster.apply(configMap({ a: '1' }, { app: 'till', tier: 'front' }), apply);
  const type = { apiVersion: 'v1', kind: 'ConfigMap' };
  const names = async (labelSelector: string) =>
    (await cluster.list(type, { labelSelector })).items.map((o) => o.metadata.name);
  assert.deepEqual(await names(''), ['menu'], 'no selector selects everything');
  assert.deepEqual(await names('app==till'), ['menu']);
  assert.deepEqual(await names('app!=till'), []);
  assert.deepEqual(await names('app!=other'), ['menu']);
  assert.deepEqual(await names('missing!=x'), ['menu'], 'a label that is absent differs from any value');
  assert.deepEqual(await names('!missing'), ['menu']);
  assert.deepEqual(await names('!app'), []);
  assert.deepEqual(await names(' app = till , tier '), ['menu'], 'every term must hold, spaces aside');
  assert.deepEqual(await names('app=till,tier=back'), []);

  const stop = new AbortController();
  const seen: string[] = [];
  for await (const e of cluster.watch(type, {
    labelSelector: 'tier=front',
    resourceVersion: '',
    timeoutSeconds: 60,
    idleTimeoutMs: 60_000,
    signal: stop.signal,
  })) {
    seen.push(`${e.type} ${e.object.metadata.name}`);
    stop.abort();
  }
  assert.deepEqual(seen, ['ADDED menu']);
});

test('another field manager conflicts with 409 naming the owner, unless it forces', async () => {
  const { cluster } = simulated();
  await cluster.apply(ns, apply);
  await cluster.apply(configMap({ a: '1' }), { fieldManager: 'kubectl', force: false });
  const conflict = await cluster.apply(configMap({ a: '2' }), apply).catch((e: unknown) => e);
  assert.ok(conflict instanceof ClusterError);
  assert.equal(conflict.status, 409);
  assert.equal(conflict.transient, false);
  assert.match(conflict.message, /conflict with "kubectl": \.data\.a/);
  // the same values are no conflict: both managers agree on them
  await cluster.apply(configMap({ a: '1' }), apply);
  const forced = await cluster.apply(configMap({ a: '3' }), { ...apply, force: true });
  assert.deepEqual(forced.data, { a: '3' });
  await assert.rejects(
    cluster.apply(configMap({ a: '4' }), { fieldManager: 'kubectl', force: false }),
    /conflict with "outpost"/,
  );
});

test('a dry run validates and answers like an apply but stores nothing', async () => {
  const { cluster } = simulated();
  await assert.rejects(cluster.apply(configMap({ a: '1' }), { ...apply, dryRun: true }), /not found/);
  await cluster.apply(ns, apply);
  const dry = await cluster.apply(configMap({ a: '1' }), { ...apply, dryRun: true });
  assert.deepEqual(dry.data, { a: '1' });
  assert.equal(await cluster.get(cmRef), undefined);
  await assert.rejects(
    cluster.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'shop' } }, apply),
    (e: unknown) => e instanceof ClusterError && e.status === 422,
  );
  assert.deepEqual(cluster.counts, { applies: 1, dryRuns: 1, deletes: 0, failures: 0 });
});

test('the kinds a CRD defines are served once the CRD is applied, and go with it', async () => {
  const { cluster } = simulated();
  const widget = {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w1', namespace: 'shop' },
  };
  assert.equal(await cluster.resourceOf('example.com/v1', 'Widget'), undefined);
  await assert.rejects(cluster.apply(widget, apply), /no matches for kind "Widget"/);
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { kind: 'Widget', plural: 'widgets' },
      versions: [{ name: 'v1', served: true, storage: true }],
    },
  };
  const established = await cluster.apply(crd, apply);
  assert.equal(readinessOf(established).ready, true);
  assert.deepEqual(await cluster.resourceOf('example.com/v1', 'Widget'), {
    name: 'widgets',
    namespaced: true,
  });
  await cluster.apply(ns, apply);
  await cluster.apply(widget, apply);
  await cluster.delete({ apiVersion: crd.apiVersion, kind: crd.kind, name: crd.metadata.name });
  assert.equal(await cluster.resourceOf('example.com/v1', 'Widget'), undefined);
  assert.equal(
    cluster.objects().some((o) => o.kind === 'Widget'),
    false,
  );
});

test('a workload becomes ready after the readiness delay, with the status a controller writes', async () => {
  const { cluster, clock } = simulated({ readyAfterMs: 10_000 });
  await cluster.apply(ns, apply);
  await cluster.apply(deployment('shop/till:1'), apply);
  const early = (await cluster.get(deployRef))!;
  assert.equal(readinessOf(early).ready, false);
  assert.equal((early.status as { observedGeneration: number }).observedGeneration, 1);
  clock.now += 15_001; // the delay is jittered to at most 1.5 times the setting
  const live = (await cluster.get(deployRef))!;
  assert.equal(readinessOf(live).ready, true, readinessOf(live).reason);
  assert.deepEqual(
    Object.fromEntries(
      ['observedGeneration', 'replicas', 'updatedReplicas', 'availableReplicas'].map((f) => [
        f,
        (live.status as Record<string, unknown>)[f],
      ]),
    ),
    { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
  );
  // a new spec starts a new rollout
  await cluster.apply(deployment('shop/till:2'), apply);
  assert.equal(readinessOf((await cluster.get(deployRef))!).ready, false);
});

test('a bad image never becomes available and its rollout exceeds the progress deadline', async () => {
  const { cluster, clock } = simulated({
    readyAfterMs: 1000,
    progressDeadlineMs: 60_000,
    badImage: (i) => i.includes(':broken'),
  });
  await cluster.apply(ns, apply);
  await cluster.apply(deployment('shop/till:broken'), apply);
  clock.now += 30_000;
  const waiting = readinessOf((await cluster.get(deployRef))!);
  assert.deepEqual([waiting.ready, waiting.failed], [false, undefined]);
  assert.match(waiting.reason, /0 of 2 replicas available/);
  clock.now += 30_000;
  const failed = readinessOf((await cluster.get(deployRef))!);
  assert.equal(failed.failed, true);
  assert.match(
    failed.reason,
    /^ProgressDeadlineExceeded: ReplicaSet "till-[0-9a-f]+" has timed out progressing\.$/,
  );
});

test('an image with a failure rate fails on that share of the sites, the same ones for a seed', async () => {
  const behaviour: SimulatedBehaviour = {
    readyAfterMs: 1000,
    progressDeadlineMs: 5000,
    imageFailureRates: [{ image: 'shop/till:2', rate: 0.3 }],
  };
  const outcome = async (site: number, image: string, seed = 1) => {
    const clock = { now: 0 };
    const cluster = new SimulatedCluster({
      seed,
      name: `store-${site}`,
      behaviour,
      now: () => clock.now,
      sleep: async () => {},
    });
    await cluster.apply(ns, apply);
    await cluster.apply(deployment(image), apply);
    clock.now += 10_000;
    return readinessOf((await cluster.get(deployRef))!);
  };
  const sites = Array.from({ length: 200 }, (_, i) => i);
  const failed = async (image: string, seed = 1) => {
    const out: number[] = [];
    for (const site of sites) if ((await outcome(site, image, seed)).failed) out.push(site);
    return out;
  };
  const bad = await failed('shop/till:2');
  assert.ok(bad.length > 40 && bad.length < 80, `about 30% of 200 failed: ${bad.length}`);
  assert.deepEqual(await failed('shop/till:2'), bad, 'the same sites fail again');
  assert.notDeepEqual(await failed('shop/till:2', 2), bad, 'another seed picks other sites');
  assert.deepEqual(await failed('shop/till:1'), [], 'the previous release is healthy everywhere');
  assert.match((await outcome(bad[0]!, 'shop/till:2')).reason, /^ProgressDeadlineExceeded/);
});

test('watch streams changes from a resource version, with the controller status as MODIFIED', async () => {
  const { cluster, clock } = simulated({ readyAfterMs: 1000 });
  await cluster.apply(ns, apply);
  const type = { apiVersion: 'apps/v1', kind: 'Deployment' };
  const { resourceVersion } = await cluster.list(type, {});
  const ac = new AbortController();
  const seen: WatchEvent[] = [];
  const watching = (async () => {
    for await (const e of cluster.watch(type, {
      resourceVersion,
      timeoutSeconds: 60,
      idleTimeoutMs: 60_000,
      signal: ac.signal,
    })) {
      seen.push(e);
      if (seen.length === 3) ac.abort();
    }
  })();
  await cluster.apply(deployment('shop/till:1'), apply);
  clock.now += 2000; // the controller's status change comes due; the waiting watch picks it up
  await new Promise((r) => setTimeout(r, 50));
  await cluster.delete(deployRef);
  await watching;
  assert.deepEqual(
    seen.map((e) => `${e.type} ${readinessOf(e.object).ready}`),
    ['ADDED false', 'MODIFIED true', 'DELETED true'],
  );
});

test('a watch from a version older than the history answers 410, and a quiet one bookmarks', async () => {
  const clock = { now: 0 };
  const cluster = new SimulatedCluster({ seed: 1, historyLimit: 2, now: () => clock.now });
  for (const name of ['a', 'b', 'c', 'd'])
    await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, apply);
  const type = { apiVersion: 'v1', kind: 'Namespace' };
  const opts = { timeoutSeconds: 60, idleTimeoutMs: 60_000, signal: new AbortController().signal };
  const old = cluster.watch(type, { ...opts, resourceVersion: '1' })[Symbol.asyncIterator]();
  await assert.rejects(old.next(), (e: unknown) => e instanceof ClusterError && e.status === 410);

  const { resourceVersion } = await cluster.list(type, {});
  const quiet = cluster.watch(type, { ...opts, resourceVersion })[Symbol.asyncIterator]();
  const next = quiet.next();
  clock.now += 11_000;
  const bookmark = await next;
  assert.equal(bookmark.value?.type, 'BOOKMARK');
  assert.equal(bookmark.value?.object.metadata.resourceVersion, resourceVersion);
  clock.now += 60_000;
  assert.equal((await quiet.next()).done, true, 'the watch ends at its timeout');
});

test('transient failures and latencies follow the seed', async () => {
  const run = async (seed: number) => {
    const { cluster } = simulated({ transientFailureRate: 0.3 }, seed);
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) {
      outcomes.push(
        await cluster
          .apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `n${i % 5}` } }, apply)
          .then(
            () => 'ok',
            (e: ClusterError) => `${e.status}${e.transient ? ' transient' : ''}`,
          ),
      );
    }
    return outcomes;
  };
  const first = await run(7);
  assert.deepEqual(await run(7), first);
  assert.notDeepEqual(await run(8), first);
  const failures = first.filter((o) => o === '503 transient').length;
  assert.ok(failures > 3 && failures < 25, `about 30 % fail (${failures} of 40)`);
});

// ---- nodes, and system-upgrade-controller moving them under the agent's own Plan driver ----------------

/** A store of three nodes: the server and two agents. */
function threeNodes() {
  const server = storeNodes(1, 'store-0001')[0]!;
  const agent = (n: number) => ({
    ...server,
    name: `store-0001-agent-${n}`,
    labels: { 'kubernetes.io/hostname': `store-0001-agent-${n}` },
  });
  return [server, agent(1), agent(2)];
}

const k3s132 = { distribution: 'k3s' as const, version: 'v1.32.1+k3s1', deadlineSeconds: 600 };

test("the nodes report through the agent's node inventory, the server as the control plane", async () => {
  const { cluster } = simulated({}, 1, { nodes: threeNodes() });
  const stack = await new NodeInventory({ cluster, agentVersion: '0.3.0', refreshMs: 0 }).current();
  assert.equal(stack?.kubernetesVersion, 'v1.31.4+k3s1');
  assert.deepEqual(
    stack?.nodes.map((n) => [n.name, n.kubeletVersion, n.controlPlane, n.osImage]),
    [
      ['store-0001-agent-1', 'v1.31.4+k3s1', false, 'Ubuntu 24.04.1 LTS'],
      ['store-0001-agent-2', 'v1.31.4+k3s1', false, 'Ubuntu 24.04.1 LTS'],
      ['store-0001-server', 'v1.31.4+k3s1', true, 'Ubuntu 24.04.1 LTS'],
    ],
  );
  assert.equal(
    await cluster.resourceOf('upgrade.cattle.io/v1', 'Plan').then((r) => r?.name),
    'plans',
    'the store runs system-upgrade-controller',
  );
});

test('a cluster without nodes serves no Plans: nothing there would move a node', async () => {
  const { cluster } = simulated();
  assert.equal(await cluster.resourceOf('upgrade.cattle.io/v1', 'Plan'), undefined);
  assert.deepEqual((await cluster.list({ apiVersion: 'v1', kind: 'Node' }, {})).items, []);
});

test("the agent's Plans move the nodes one at a time over simulated time: Upgrading, then Conformant", async () => {
  const { cluster, clock } = simulated({ nodeUpgradeMs: 60_000 }, 1, { nodes: threeNodes() });
  const layer = new KubernetesLayerUpgrade({ cluster, pollMs: 1, now: () => new Date(clock.now) });
  const seen: string[] = [];
  let p = await layer.pass(k3s132);
  for (let i = 0; i < 40 && p.state === 'Upgrading'; i++) {
    seen.push(p.behind.join(','));
    clock.now += 10_000;
    p = await layer.pass(k3s132);
  }
  assert.equal(p.state, 'Conformant', p.detail);
  assert.deepEqual(
    [...new Set(seen)],
    [
      'store-0001-server,store-0001-agent-1,store-0001-agent-2',
      'store-0001-agent-1,store-0001-agent-2',
      'store-0001-agent-2',
    ],
    'the server first, then one agent at a time',
  );
  assert.equal(await cluster.version(), 'v1.32.1+k3s1', 'the API server moved with the server node');
  const watched = (await cluster.list({ apiVersion: 'v1', kind: 'Node' }, {})).items.map(
    (n) => (n.status as { nodeInfo: { kubeletVersion: string } }).nodeInfo.kubeletVersion,
  );
  assert.deepEqual(watched, ['v1.32.1+k3s1', 'v1.32.1+k3s1', 'v1.32.1+k3s1']);
});

test('a store told to fail keeps that node back: Behind after the deadline, naming it', async () => {
  const { cluster, clock } = simulated({ nodeUpgradeMs: 60_000 }, 1, {
    nodes: threeNodes(),
    failingUpgrade: 'store-0001-agent-1',
  });
  const layer = new KubernetesLayerUpgrade({ cluster, pollMs: 1, now: () => new Date(clock.now) });
  let p = await layer.pass(k3s132);
  for (let i = 0; i < 100 && p.state === 'Upgrading'; i++) {
    clock.now += 10_000;
    p = await layer.pass(k3s132);
  }
  assert.equal(p.state, 'Behind');
  assert.equal(p.behind[0], 'store-0001-agent-1');
  assert.match(p.detail, /node store-0001-agent-1 still runs v1\.31\.4\+k3s1 600 s after/);
  assert.equal(await cluster.version(), 'v1.32.1+k3s1', 'the server got there');
});

test('Plans taken back mid-upgrade stop the controller: nodes moved stay, the others are not started', async () => {
  const { cluster, clock } = simulated({ nodeUpgradeMs: 60_000 }, 1, { nodes: threeNodes() });
  const layer = new KubernetesLayerUpgrade({ cluster, pollMs: 1, now: () => new Date(clock.now) });
  let p = await layer.pass(k3s132);
  while (p.behind.includes('store-0001-server')) {
    clock.now += 10_000;
    p = await layer.pass(k3s132);
  }
  for (const name of ['outpost-k3s-server', 'outpost-k3s-agent'])
    assert.ok(
      await cluster.delete({
        apiVersion: 'upgrade.cattle.io/v1',
        kind: 'Plan',
        namespace: 'system-upgrade',
        name,
      }),
    );
  clock.now += 600_000;
  const kubelets = (await cluster.list({ apiVersion: 'v1', kind: 'Node' }, {})).items.map((n) => [
    n.metadata.name,
    (n.status as { nodeInfo: { kubeletVersion: string } }).nodeInfo.kubeletVersion,
  ]);
  assert.deepEqual(kubelets, [
    ['store-0001-server', 'v1.32.1+k3s1'],
    ['store-0001-agent-1', 'v1.31.4+k3s1'],
    ['store-0001-agent-2', 'v1.31.4+k3s1'],
  ]);
});
