// Bad bundles on a real kube-apiserver: the API server's own answer reaches the hub as Failed, nothing
// of the bad bundle is half-applied, and the site's other bundles carry on untouched.

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
  agent = await startAgent(fleet, kube.kubeconfigPath, { name: 'store-bad', labels: { ring: '1' } });
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1);
  await fleet.api.applyBundle(bundleFile('good', { matchLabels: { ring: '1' } }, [configMap('good', 'v1')]));
  await eventually('the good bundle to be Ready', async () => (await stateOf('good'))?.state === 'Ready');
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
});

function configMap(name: string, value: string) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { value } };
}

async function stateOf(bundle: string) {
  return (await fleet.api.site('store-bad')).deployments.find((d) => d.bundle === bundle);
}

async function exists(path: string): Promise<boolean> {
  return (await kube.request('GET', path)).status === 200;
}

async function goodIsUntouched() {
  const good = await stateOf('good');
  assert.equal(good?.state, 'Ready');
  const cm = await kube.request('GET', '/api/v1/namespaces/default/configmaps/good');
  assert.equal(cm.body.data.value, 'v1');
}

test('a bundle with a kind the cluster does not serve fails with the API server answer and applies nothing', async () => {
  await fleet.api.applyBundle(
    bundleFile('unknown-kind', { matchLabels: { ring: '1' } }, [
      configMap('unknown-kind-cm', 'x'),
      { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g1', namespace: 'default' } },
    ]),
  );
  const failed = await eventually('the bundle to fail', async () => {
    const d = await stateOf('unknown-kind');
    return d?.state === 'Failed' ? d : undefined;
  });
  assert.match(
    failed.message,
    /Gadget default\/g1: no matches for kind "Gadget" in version "example.com\/v1"/,
  );
  assert.equal(failed.counts.applied, 0);
  assert.equal(
    await exists('/api/v1/namespaces/default/configmaps/unknown-kind-cm'),
    false,
    'its valid object was not applied',
  );
  await goodIsUntouched();
});

test('an object the API server rejects fails the bundle before anything is written', async () => {
  await fleet.api.applyBundle(
    bundleFile('invalid-deployment', { matchLabels: { ring: '1' } }, [
      configMap('invalid-deployment-cm', 'x'),
      // apps/v1 requires spec.selector and a template; the API server says so in its own words
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'broken', namespace: 'default' },
        spec: { replicas: 1 },
      },
    ]),
  );
  const failed = await eventually('the bundle to fail', async () => {
    const d = await stateOf('invalid-deployment');
    return d?.state === 'Failed' ? d : undefined;
  });
  assert.match(failed.message, /^Deployment default\/broken: .*spec\.selector: Required value/);
  assert.equal(await exists('/api/v1/namespaces/default/configmaps/invalid-deployment-cm'), false);
  assert.equal(await exists('/apis/apps/v1/namespaces/default/deployments/broken'), false);
  await goodIsUntouched();

  // Fixing the bundle lets it through.
  await fleet.api.applyBundle(
    bundleFile('invalid-deployment', { matchLabels: { ring: '1' } }, [
      configMap('invalid-deployment-cm', 'x'),
    ]),
  );
  await eventually(
    'the fixed bundle to be Ready',
    async () => (await stateOf('invalid-deployment'))?.state === 'Ready',
  );
  assert.equal(await exists('/api/v1/namespaces/default/configmaps/invalid-deployment-cm'), true);
});

test('an object owned by another field manager is a conflict, reported, not overwritten', async () => {
  const created = await kube.request(
    'PATCH',
    '/api/v1/namespaces/default/configmaps/contested?fieldManager=someone-else',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'contested' }, data: { value: 'theirs' } },
    'application/apply-patch+yaml',
  );
  assert.equal(created.status, 201);
  await fleet.api.applyBundle(
    bundleFile('contest', { matchLabels: { ring: '1' } }, [configMap('contested', 'ours')]),
  );
  const failed = await eventually('the conflict to be reported', async () => {
    const d = await stateOf('contest');
    return d?.state === 'Failed' ? d : undefined;
  });
  assert.match(failed.message, /conflict/i);
  assert.match(failed.message, /someone-else/);
  assert.equal(
    (await kube.request('GET', '/api/v1/namespaces/default/configmaps/contested')).body.data.value,
    'theirs',
  );
  await goodIsUntouched();
});
