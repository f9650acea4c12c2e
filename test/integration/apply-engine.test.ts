// The apply engine on a real kube-apiserver, without hub or agent loop: ordering (CRDs and Namespaces
// first, custom resources once their CRD is Established), conflicts and force, and pruning by inventory
// under both deletion policies.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ApplyOptions, Cluster } from '../../src/agent/apply/cluster.ts';
import { applyBundle, prune } from '../../src/agent/apply/engine.ts';
import { readinessOf } from '../../src/agent/apply/readiness.ts';
import { KubeCluster } from '../../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../../src/agent/kube/config.ts';
import { type BundleApplyOptions, withApplyDefaults } from '../../src/model/apply-options.ts';
import type { KubeObject, ObjectRef } from '../../src/model/manifest.ts';
import type { RenderedBundle } from '../../src/render/rendered.ts';
import { aroundCluster } from '../support/cluster.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kube: KubeFixture;
let cluster: KubeCluster;

before(async () => {
  kube = await startKube();
  cluster = new KubeCluster(kubeConfigFromFile(kube.kubeconfigPath));
});

after(async () => {
  cluster?.close();
  await kube?.stop();
});

function bundle(
  name: string,
  objects: KubeObject[],
  options: Partial<BundleApplyOptions> = {},
): RenderedBundle {
  return { bundle: name, namespace: 'default', options: withApplyDefaults(options), objects };
}

const configMap = (name: string, data: Record<string, string> = { v: '1' }): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data,
});

async function apply(b: RenderedBundle, previous: ObjectRef[] = [], on: Cluster = cluster) {
  return applyBundle(on, b, previous, { saveInventory: async () => {} });
}

const get = async (path: string) => (await kube.request('GET', path)).body;

test('CRDs and Namespaces go first, and a custom resource waits until its CRD is Established', async () => {
  const events: string[] = [];
  let establishedSeen = false;
  // Records what reaches the API server, in order; every call still goes to it.
  const recording = aroundCluster(cluster, {
    apply: async (obj: KubeObject, opts: ApplyOptions) => {
      const established = establishedSeen;
      const result = await cluster.apply(obj, opts);
      // only writes that went through (right after Established, discovery may lag and the engine asks again)
      if (!opts.dryRun)
        events.push(`${obj.kind}${obj.kind === 'Gizmo' && established ? ' (CRD established)' : ''}`);
      return result;
    },
    get: async (ref: ObjectRef) => {
      const live = await cluster.get(ref);
      if (ref.kind === 'CustomResourceDefinition' && live && readinessOf(live).ready) establishedSeen = true;
      return live;
    },
  });
  const crd: KubeObject = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'gizmos.example.com' },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { plural: 'gizmos', singular: 'gizmo', kind: 'Gizmo' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
  const outcome = await apply(
    bundle('ordered', [
      {
        apiVersion: 'example.com/v1',
        kind: 'Gizmo',
        metadata: { name: 'g1', namespace: 'ordered' },
        spec: { n: 1 },
      },
      { ...configMap('ordered-cm'), metadata: { name: 'ordered-cm', namespace: 'ordered' } },
      crd,
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ordered' } },
    ]),
    [],
    recording,
  );
  assert.equal(outcome.ok, true, outcome.message);
  assert.deepEqual(events, ['CustomResourceDefinition', 'Namespace', 'ConfigMap', 'Gizmo (CRD established)']);
  assert.equal((await get('/apis/example.com/v1/namespaces/ordered/gizmos/g1')).spec.n, 1);
});

test('a field another manager owns is a conflict naming that manager, unless the bundle forces', async () => {
  const created = await kube.request(
    'PATCH',
    '/api/v1/namespaces/default/configmaps/shared?fieldManager=store-tool',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shared' }, data: { v: 'theirs' } },
    'application/apply-patch+yaml',
  );
  assert.equal(created.status, 201);

  const polite = await apply(bundle('shared', [configMap('shared', { v: 'ours' })]));
  assert.equal(polite.ok, false);
  assert.match(
    polite.message,
    /^ConfigMap default\/shared: Apply failed with 1 conflict: conflict with "store-tool"/,
  );
  assert.equal((await get('/api/v1/namespaces/default/configmaps/shared')).data.v, 'theirs');

  const forced = await apply(bundle('shared', [configMap('shared', { v: 'ours' })], { force: true }));
  assert.equal(forced.ok, true, forced.message);
  const live = await get('/api/v1/namespaces/default/configmaps/shared');
  assert.equal(live.data.v, 'ours');
  const owner = live.metadata.managedFields.find(
    (m: { fieldsV1: { 'f:data'?: object } }) => m.fieldsV1['f:data'],
  );
  assert.equal(owner.manager, 'outpost', 'the field now belongs to the bundle');
});

test('pruning removes exactly what the bundle no longer has, and leaves objects it does not own', async () => {
  const v1 = await apply(bundle('menu', [configMap('menu-a'), configMap('menu-b'), configMap('menu-c')]));
  assert.equal(v1.ok, true);
  // someone else's object that happens to carry the bundle's label is not in the inventory
  await kube.request('POST', '/api/v1/namespaces/default/configmaps', {
    metadata: { name: 'menu-lookalike', labels: { 'outpost.dev/bundle': 'menu' } },
  });
  // and an object the bundle had was taken over by another bundle since
  await kube.request(
    'PATCH',
    '/api/v1/namespaces/default/configmaps/menu-c',
    { metadata: { labels: { 'outpost.dev/bundle': 'other' } } },
    'application/merge-patch+json',
  );
  const v2 = await apply(bundle('menu', [configMap('menu-a')]), v1.inventory);
  assert.equal(v2.ok, true, v2.message);
  assert.deepEqual(
    v2.inventory.map((r) => r.name),
    ['menu-a'],
  );
  const exists = async (name: string) =>
    (await kube.request('GET', `/api/v1/namespaces/default/configmaps/${name}`)).status === 200;
  assert.equal(await exists('menu-a'), true);
  assert.equal(await exists('menu-b'), false, 'dropped from the bundle: deleted');
  assert.equal(await exists('menu-c'), true, 'owned by another bundle now: left alone');
  assert.equal(await exists('menu-lookalike'), true, 'never in the inventory: left alone');
});

test('with deletionPolicy Orphan, what the bundle lets go of stays, without its labels', async () => {
  const options = { deletionPolicy: 'Orphan' as const };
  const v1 = await apply(bundle('archive', [configMap('archive-a'), configMap('archive-b')], options));
  const v2 = await apply(bundle('archive', [configMap('archive-a')], options), v1.inventory);
  assert.equal(v2.ok, true, v2.message);
  const b = await get('/api/v1/namespaces/default/configmaps/archive-b');
  assert.equal(b.data.v, '1', 'still there');
  assert.equal(b.metadata.labels?.['outpost.dev/bundle'], undefined);
  assert.equal(b.metadata.labels?.['app.kubernetes.io/managed-by'], undefined);

  // the whole bundle leaving the site works the same way
  assert.deepEqual(await prune(cluster, 'archive', v2.inventory, 'Orphan'), []);
  const a = await get('/api/v1/namespaces/default/configmaps/archive-a');
  assert.equal(a.metadata.labels?.['outpost.dev/bundle'], undefined);
});
