import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type BundleApplyOptions, withApplyDefaults } from '../model/apply-options.ts';
import type { KubeObject, ObjectRef } from '../model/manifest.ts';
import type { DeploymentReport, DesiredState } from '../model/wire.ts';
import { createRenderer } from '../render/rendered.ts';
import { SimulatedCluster } from '../sim/cluster.ts';
import { bundleLabel } from './apply/engine.ts';
import type { DesiredSource } from './desired-sync.ts';
import { Reconciler } from './reconciler.ts';
import { LocalState } from './state/local-state.ts';

// The reconciler against the simulated cluster, on a clock the test moves, with its state in a temporary
// directory. The test hands over desired states itself, as DesiredSync would after a poll: that part
// needs a hub and is covered with one in test/integration.

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Sent {
  deployments: DeploymentReport[];
  removed: string[];
  /** the image the till Deployment ran on the cluster when the report was made */
  liveImage: string | undefined;
}

const deployRef: ObjectRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'till', namespace: 'till' };

/** The images of a workload's pod template, init containers first. */
function imagesOf(obj: KubeObject | undefined): string[] {
  const pod = (obj?.spec as { template?: { spec?: Record<string, Array<{ image: string }>> } } | undefined)
    ?.template?.spec;
  return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].map((c) => c.image);
}

async function site(opts: { driftCheckMs?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-reconciler-'));
  dirs.push(dir);
  const state = await LocalState.open(dir);
  const clock = { now: 1_000_000 };
  const cluster = new SimulatedCluster({
    seed: 1,
    name: 'store-0001',
    behaviour: { readyAfterMs: 1000, badImage: (image) => image.endsWith(':bad') },
    now: () => clock.now,
    sleep: async () => {},
  });
  let desired: DesiredState | undefined;
  const source: DesiredSource = {
    current: () => desired,
    blobMissing: () => {},
    pruneBlobs: (keep) =>
      state.pruneBlobs(new Set([...keep, ...(desired?.deployments ?? []).map((d) => d.digest)])),
  };
  const sent: Sent[] = [];
  const reconciler: Reconciler = await Reconciler.open({
    cluster,
    state,
    desired: source,
    report: async () => {
      sent.push({
        deployments: reconciler.deploymentReports(),
        removed: reconciler.unreportedRemovals(),
        liveImage: imagesOf(await cluster.get(deployRef))[0],
      });
    },
    readinessResyncMs: 1000,
    heartbeatMs: 30_000,
    driftCheckMs: opts.driftCheckMs ?? 60_000,
    watch: false,
    now: () => clock.now,
  });
  let revision = 0;
  /** Renders the bundles as the hub would, caches their blobs and makes them the desired state. */
  const place = async (
    ...bundles: Array<{ bundle: string; objects: KubeObject[]; options?: BundleApplyOptions }>
  ) => {
    const deployments = [];
    for (const b of bundles) {
      const blob = createRenderer(b).render({ name: 'store-0001', labels: {}, properties: {} });
      await state.saveBlob(blob.digest, blob.content);
      deployments.push({ bundle: b.bundle, revision: ++revision, digest: blob.digest });
    }
    desired = { site: 'store-0001', digest: `sha256:${String(revision).padStart(64, '0')}`, deployments };
    return deployments.map((d) => d.digest);
  };
  const latest = (bundle = 'till') => sent.at(-1)?.deployments.find((d) => d.bundle === bundle);
  return { state, cluster, clock, reconciler, place, sent, latest };
}

const namespace = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const till = (image: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'till', namespace: 'till' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'till' } },
    template: { metadata: { labels: { app: 'till' } }, spec: { containers: [{ name: 'till', image }] } },
  },
});
const menu = (data: Record<string, string>, namespace = 'till'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'menu', namespace },
  data,
});
const tillBundle = (image: string, options: Partial<BundleApplyOptions> = {}) => ({
  bundle: 'till',
  objects: [namespace('till'), menu({ coffee: '2.50' }), till(image)],
  options: withApplyDefaults(options),
});

test('applies a bundle, reports it NotReady while its workload starts, then Ready', async () => {
  const { cluster, clock, reconciler, place, latest, state } = await site();
  const [digest] = await place(tillBundle('till:1'));

  await reconciler.pass();
  assert.equal(latest()?.state, 'NotReady');
  assert.equal(latest()?.digest, digest);
  const live = await cluster.get(deployRef);
  assert.equal(live?.metadata.labels?.[bundleLabel], 'till', 'the objects carry their bundle');

  clock.now += 2000;
  await reconciler.pass();
  assert.deepEqual(latest()?.counts, { total: 3, applied: 3, ready: 3 });
  assert.equal(latest()?.state, 'Ready');
  const [record] = await state.records();
  assert.equal(record?.applied, digest);
  assert.equal(record?.lastKnownGood, digest, 'a Ready revision becomes the last-known-good');
  assert.deepEqual(reconciler.deployments()[0]?.runningDigest, digest);
});

test('a new revision that misses its progress deadline rolls back to the last-known-good', async () => {
  const { cluster, clock, reconciler, place, latest, sent, state } = await site();
  const [good] = await place(tillBundle('till:1', { progressDeadlineSeconds: 30 }));
  await reconciler.pass();
  clock.now += 2000;
  await reconciler.pass();
  assert.equal(latest()?.state, 'Ready');

  const [bad] = await place(tillBundle('till:bad', { progressDeadlineSeconds: 30 }));
  await reconciler.pass();
  assert.equal(latest()?.state, 'NotReady');
  clock.now += 20_000;
  await reconciler.pass();
  assert.equal(latest()?.state, 'NotReady', 'still within its deadline');

  clock.now += 11_000;
  const before = sent.length;
  await reconciler.pass();
  const failedFirst = sent[before];
  assert.equal(failedFirst?.deployments[0]?.state, 'Failed');
  assert.equal(failedFirst?.liveImage, 'till:bad', 'the hub hears of the failure before the site goes back');
  assert.equal(latest()?.state, 'Failed');
  assert.equal(latest()?.digest, bad, 'the report names the revision that failed');
  assert.match(
    latest()?.message ?? '',
    new RegExp(`progress deadline exceeded after 30s.*rolled back to ${good}`),
  );
  assert.deepEqual(imagesOf(await cluster.get(deployRef)), ['till:1']);
  const [record] = await state.records();
  assert.deepEqual(record?.rolledBack && { digest: record.rolledBack.digest, to: record.rolledBack.to }, {
    digest: bad,
    to: good,
  });
  assert.equal(record?.applied, good);
  assert.equal(reconciler.deployments()[0]?.runningDigest, good);
});

test('drift is reported as Drifted first, then corrected, at most once per 5 s', async () => {
  const { cluster, clock, reconciler, place, latest, sent } = await site({ driftCheckMs: 500 });
  const cmRef: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'menu', namespace: 'till' };
  await place({ bundle: 'till', objects: [namespace('till'), menu({ coffee: '2.50' })] });
  await reconciler.pass();
  assert.equal(latest()?.state, 'Ready');
  /** Someone on site changes the price, keeping everything else. */
  const edit = async (coffee: string) => {
    const live = (await cluster.get(cmRef))!;
    const labels = live.metadata.labels;
    await cluster.apply(
      { ...menu({ coffee }), metadata: { ...menu({}).metadata, labels } },
      { fieldManager: 'kubectl', force: true },
    );
  };

  await edit('9.99');
  clock.now += 1000;
  let before = sent.length;
  await reconciler.pass();
  const drifted = sent[before]?.deployments[0];
  assert.equal(drifted?.state, 'Drifted');
  assert.deepEqual(
    drifted?.drift?.map((d) => [d.path, d.want, d.got]),
    [['data.coffee', '"2.50"', '"9.99"']],
  );
  assert.equal(latest()?.state, 'Ready', 'corrected in the same pass');
  assert.deepEqual((await cluster.get(cmRef))?.data, { coffee: '2.50' });

  // someone keeps changing it back: the next correction waits out the 5 s
  await edit('8.88');
  clock.now += 1000;
  await reconciler.pass();
  assert.equal(latest()?.state, 'Drifted');
  assert.deepEqual((await cluster.get(cmRef))?.data, { coffee: '8.88' }, 'not corrected yet');
  clock.now += 2000;
  await reconciler.pass();
  assert.deepEqual((await cluster.get(cmRef))?.data, { coffee: '8.88' }, '3 s after the last: not yet');
  clock.now += 2000;
  before = sent.length;
  await reconciler.pass();
  assert.equal(sent[before]?.deployments[0]?.state, 'Drifted');
  assert.equal(latest()?.state, 'Ready');
  assert.deepEqual((await cluster.get(cmRef))?.data, { coffee: '2.50' });
});

test('a bundle no longer placed is pruned; under the Orphan policy its objects stay, unlabelled', async () => {
  const { cluster, reconciler, place, latest, state } = await site();
  const [tillDigest, menuDigest] = await place(
    { bundle: 'till', objects: [menu({ coffee: '2.50' }, 'default')] },
    {
      bundle: 'menu',
      objects: [{ ...menu({ tea: '1.80' }, 'kube-public') }],
      options: withApplyDefaults({ deletionPolicy: 'Orphan' }),
    },
  );
  await reconciler.pass();
  assert.equal(latest('till')?.state, 'Ready');
  assert.equal(latest('menu')?.state, 'Ready');

  await place();
  await reconciler.pass();
  const tillRef: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'menu', namespace: 'default' };
  const menuRef: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'menu', namespace: 'kube-public' };
  assert.equal(await cluster.get(tillRef), undefined, 'Delete: the object is gone');
  const orphan = await cluster.get(menuRef);
  assert.deepEqual(orphan?.data, { tea: '1.80' }, 'Orphan: the object stays');
  assert.equal(orphan?.metadata.labels?.[bundleLabel], undefined, 'and no longer says it is the bundle’s');
  assert.deepEqual(reconciler.deploymentReports(), []);
  assert.deepEqual(reconciler.unreportedRemovals().sort(), ['menu', 'till']);
  assert.deepEqual(await state.inventories(), []);
  assert.deepEqual(await state.records(), []);
  assert.equal(await state.blob(tillDigest!), undefined, 'the manifests nobody needs leave the cache');
  assert.equal(await state.blob(menuDigest!), undefined);

  reconciler.removalsHeard(['till', 'menu']);
  assert.deepEqual(reconciler.unreportedRemovals(), [], 'the hub has heard');
});

test('with pre-pull on, a revision with new images switches only once every node pulled them', async () => {
  const { cluster, clock, reconciler, place, latest } = await site();
  const prePull = { prePull: { enabled: true, deadlineSeconds: 600 } };
  await place(tillBundle('till:1', prePull));
  await reconciler.pass();
  clock.now += 2000;
  await reconciler.pass();
  assert.equal(latest()?.state, 'Ready');

  const [next] = await place(tillBundle('till:2', prePull));
  const dsRef: ObjectRef = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    name: 'outpost-prepull-till',
    namespace: 'till',
  };
  const image = async () => imagesOf(await cluster.get(deployRef))[0];
  await reconciler.pass();
  assert.equal(latest()?.state, 'Applying');
  assert.match(latest()?.message ?? '', /^pre-pulling 1 new image\(s\) before switching/);
  assert.equal(await image(), 'till:1', 'the switch waits');
  assert.deepEqual(
    imagesOf(await cluster.get(dsRef)),
    ['till:2', 'registry.k8s.io/pause:3.10'],
    'every node pulls the new image, then idles',
  );

  clock.now += 2000;
  await reconciler.pass();
  assert.equal(await image(), 'till:2', 'pulled everywhere: switched');
  assert.equal(await cluster.get(dsRef), undefined, 'the pre-pull DaemonSet is gone');
  assert.equal(latest()?.digest, next);
});
