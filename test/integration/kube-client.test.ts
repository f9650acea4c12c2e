// The agent's own Kubernetes client against a real kube-apiserver: paged lists, and a watch stream that
// carries additions, changes and deletions from a resource version on, scoped by label.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeCluster } from '../../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../../src/agent/kube/config.ts';
import { eventually } from '../support/eventually.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kube: KubeFixture;
let cluster: KubeCluster;

before(async () => {
  kube = await startKube();
  cluster = new KubeCluster(kubeConfigFromFile(kube.kubeconfigPath), { listPageSize: 2 });
});

after(async () => {
  cluster?.close();
  await kube?.stop();
});

const configMaps = { apiVersion: 'v1', kind: 'ConfigMap' };

async function create(name: string, labels: Record<string, string>) {
  const r = await kube.request('POST', '/api/v1/namespaces/default/configmaps', {
    metadata: { name, labels },
    data: { v: '1' },
  });
  assert.equal(r.status, 201);
}

test('a list follows every page and returns only labelled objects, with apiVersion and kind', async () => {
  for (let i = 0; i < 5; i++) await create(`listed-${i}`, { 'outpost.dev/bundle': 'listed' });
  await create('unlabelled', {});
  const list = await cluster.list(configMaps, { labelSelector: 'outpost.dev/bundle=listed' });
  assert.deepEqual(
    list.items.map((o) => o.metadata.name).sort(),
    [0, 1, 2, 3, 4].map((i) => `listed-${i}`),
  );
  assert.ok(list.items.every((o) => o.apiVersion === 'v1' && o.kind === 'ConfigMap'));
  assert.match(list.resourceVersion, /^\d+$/);
});

test('a watch from the list version sees additions, changes and deletions, and nothing unlabelled', async () => {
  const { resourceVersion } = await cluster.list(configMaps, { labelSelector: 'outpost.dev/bundle=watched' });
  const events: string[] = [];
  const stop = new AbortController();
  const watching = (async () => {
    try {
      for await (const e of cluster.watch(configMaps, {
        labelSelector: 'outpost.dev/bundle=watched',
        resourceVersion,
        timeoutSeconds: 30,
        idleTimeoutMs: 60_000,
        signal: stop.signal,
      }))
        events.push(`${e.type} ${e.object.metadata.name}`);
    } catch (e) {
      if (!stop.signal.aborted) throw e;
    }
  })();
  await create('watched-a', { 'outpost.dev/bundle': 'watched' });
  await create('bystander', { 'outpost.dev/bundle': 'other' });
  await kube.request(
    'PATCH',
    '/api/v1/namespaces/default/configmaps/watched-a',
    { data: { v: '2' } },
    'application/merge-patch+json',
  );
  await kube.request('DELETE', '/api/v1/namespaces/default/configmaps/watched-a');
  await eventually('three events', () => events.length >= 3);
  stop.abort();
  await watching;
  assert.deepEqual(events, ['ADDED watched-a', 'MODIFIED watched-a', 'DELETED watched-a']);
});
