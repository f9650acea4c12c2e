// The spine end to end on real parts: a hub on SQLite, an agent, a real kube-apiserver + etcd. A bundle
// placed by selector lands on the site with field manager "outpost", reports Ready once its Deployment
// is available, follows edits, and is pruned — exactly its own objects — when unplaced.

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
  agent = await startAgent(fleet, kube.kubeconfigPath, {
    name: 'store-1',
    labels: { region: 'west', format: 'mini' },
  });
  await eventually('store-1 to register', async () =>
    (await fleet.api.sites()).find((s) => s.name === 'store-1'),
  );
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
});

const ns = 'skel-app';
const crd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } },
          },
        },
      },
    ],
  },
};

function manifests(message: string) {
  return [
    // deliberately out of order: the custom resource first, its CRD and namespace after
    {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w1', namespace: ns },
      spec: { size: 3 },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
        },
      },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns }, data: { message } },
    crd,
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'skel-reader' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
    },
  ];
}

const paths = {
  namespace: `/api/v1/namespaces/${ns}`,
  configMap: `/api/v1/namespaces/${ns}/configmaps/settings`,
  deployment: `/apis/apps/v1/namespaces/${ns}/deployments/web`,
  crd: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com',
  widget: `/apis/example.com/v1/namespaces/${ns}/widgets/w1`,
  clusterRole: '/apis/rbac.authorization.k8s.io/v1/clusterroles/skel-reader',
};

async function deploymentOf(bundle: string) {
  const site = await fleet.api.site('store-1');
  return site.deployments.find((d) => d.bundle === bundle);
}

test('a bundle placed by selector is applied, reports Ready, follows edits and is pruned when unplaced', async () => {
  // Objects the bundle does not own, which pruning must leave alone.
  assert.equal(
    (
      await kube.request('POST', '/api/v1/namespaces/default/configmaps', {
        metadata: { name: 'bystander' },
        data: { a: '1' },
      })
    ).status,
    201,
  );
  assert.equal(
    (
      await kube.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
        metadata: { name: 'bystander' },
        rules: [],
      })
    ).status,
    201,
  );

  const applied = await fleet.api.applyBundle(
    bundleFile(
      'skel',
      { matchExpressions: [{ key: 'region', operator: 'In', values: ['west', 'north'] }] },
      manifests('v1'),
    ),
  );
  assert.deepEqual(applied, { bundle: 'skel', revision: 1, changed: true, targeted: 1 });

  for (const [what, path] of Object.entries(paths)) {
    const obj = await eventually(`${what} to exist`, async () => {
      const r = await kube.request('GET', path);
      return r.status === 200 ? r.body : undefined;
    });
    const managers = (obj.metadata.managedFields ?? []).map(
      (m: { manager: string; operation: string }) => `${m.manager}/${m.operation}`,
    );
    assert.ok(
      managers.includes('outpost/Apply'),
      `${what} is managed by outpost via server-side apply (got ${managers})`,
    );
    assert.equal(obj.metadata.labels['outpost.dev/bundle'], 'skel');
  }
  // the Widget landed in the namespace the bundle named; its schema-typed field kept its type
  assert.equal((await kube.request('GET', paths.widget)).body.spec.size, 3);

  // Nothing plays the Deployment controller, so the bundle waits on it.
  const waiting = await eventually('the deployment to be NotReady', async () => {
    const d = await deploymentOf('skel');
    return d?.state === 'NotReady' ? d : undefined;
  });
  assert.match(waiting.message, /Deployment skel-app\/web/);
  assert.deepEqual(waiting.counts, { total: 6, applied: 6, ready: 5 });

  // The test acts as the controller: the Deployment becomes available.
  const live = (await kube.request('GET', paths.deployment)).body;
  const marked = await kube.request(
    'PATCH',
    `${paths.deployment}/status`,
    {
      status: {
        observedGeneration: live.metadata.generation,
        replicas: 1,
        updatedReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
      },
    },
    'application/merge-patch+json',
  );
  assert.equal(marked.status, 200);
  const ready = await eventually('the deployment to be Ready', async () => {
    const d = await deploymentOf('skel');
    return d?.state === 'Ready' ? d : undefined;
  });
  assert.deepEqual(ready.counts, { total: 6, applied: 6, ready: 6 });
  assert.equal(ready.appliedDigest, ready.desiredDigest);
  const status = await fleet.api.status();
  assert.equal(status.deployments.byState.Ready, 1);
  assert.deepEqual(status.bundles.find((b) => b.name === 'skel')?.byState, { Ready: 1 });

  // Editing the bundle updates the objects on the site.
  const edited = await fleet.api.applyBundle(
    bundleFile(
      'skel',
      { matchExpressions: [{ key: 'region', operator: 'In', values: ['west', 'north'] }] },
      manifests('v2'),
    ),
  );
  assert.equal(edited.revision, 2);
  await eventually(
    'the config map to carry the edit',
    async () => (await kube.request('GET', paths.configMap)).body.data?.message === 'v2',
  );
  const afterEdit = await eventually('revision 2 to be Ready', async () => {
    const d = await deploymentOf('skel');
    return d?.desiredRevision === 2 && d.state === 'Ready' ? d : undefined;
  });
  assert.equal(afterEdit.appliedDigest, afterEdit.desiredDigest);

  // Re-applying identical content is not a new revision.
  const again = await fleet.api.applyBundle(
    bundleFile(
      'skel',
      { matchExpressions: [{ key: 'region', operator: 'In', values: ['west', 'north'] }] },
      manifests('v2'),
    ),
  );
  assert.deepEqual(again, { bundle: 'skel', revision: 2, changed: false, targeted: 1 });

  // Unplacing (the site leaves region west) prunes the bundle's objects and nothing else.
  await fleet.api.patchSite('store-1', { labels: { region: 'east', format: 'mini' } });
  for (const [what, path] of Object.entries(paths)) {
    await eventually(`${what} to be pruned`, async () => {
      const r = await kube.request('GET', path);
      // without a namespace controller a deleted namespace stays Terminating; deletion has begun
      return r.status === 404 || (what === 'namespace' && r.body.metadata?.deletionTimestamp !== undefined);
    });
  }
  assert.equal((await kube.request('GET', '/api/v1/namespaces/default/configmaps/bystander')).status, 200);
  assert.equal(
    (await kube.request('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/bystander')).status,
    200,
  );
  await eventually(
    'the hub to forget the deployment',
    async () => (await deploymentOf('skel')) === undefined,
  );
});
