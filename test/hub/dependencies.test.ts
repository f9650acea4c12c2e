// dependsOn at the hub: a change that leaves a bundle depending on one that does not exist, or closes a
// cycle, is refused with the names, by bundle apply, by a git sync (a real repository) and by delete; a
// sound graph is carried to the agent in each rendered bundle.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SyncResult } from '../../src/model/fleet-wire.ts';
import type { RenderedBundle } from '../../src/render/rendered.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
let repo: GitRepo;
let work: { dir: string; remove(): Promise<void> };
let store: Site;

before(async () => {
  work = await tempDir('outpost-deps-');
  repo = await createRepo(work.dir, 'fleet');
  hub = await startHubServer({ sourcesDir: `${work.dir}/cache` });
  store = await hub.enroll('store-deps', { region: 'west' });
});

after(async () => {
  await hub?.close();
  await work?.remove();
});

const bundle = (name: string, deps: string[] = []) =>
  `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: ${name}}\nspec:\n  placement: {selector: {}}\n${
    deps.length > 0 ? `  dependsOn: [${deps.join(', ')}]\n` : ''
  }---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: default}\ndata: {a: "1"}\n`;

const apply = (name: string, deps: string[] = []) =>
  hub.operator('POST', '/api/v1/bundles/apply', {
    files: [{ path: `${name}.yaml`, content: bundle(name, deps) }],
  });

describe('bundle apply and delete', () => {
  test('a missing dependency is refused naming both bundles', async () => {
    const r = await apply('pos', ['pos-crds']);
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'bundle_invalid');
    assert.match(
      r.json().error.message,
      /bundle pos depends on pos-crds, which does not exist; apply it first/,
    );
    assert.equal(r.json().error.file, 'pos.yaml');
  });

  test('a sound graph is accepted and each rendered bundle carries its dependencies to the site', async () => {
    assert.equal((await apply('pos-crds')).statusCode, 200);
    assert.equal((await apply('pos', ['pos-crds'])).statusCode, 200);
    const desired = (await store.call('GET', '/agent/v1/sites/:site/desired')).body as {
      deployments: Array<{ bundle: string; digest: string }>;
    };
    const digest = desired.deployments.find((d) => d.bundle === 'pos')!.digest;
    const blob = await store.http.request('GET', `/agent/v1/sites/${store.siteId}/blobs/${digest}`, {
      raw: true,
    });
    assert.deepEqual((JSON.parse(blob.body as string) as RenderedBundle).dependsOn, ['pos-crds']);
  });

  test('a change that closes a cycle is refused with the cycle', async () => {
    const r = await apply('pos-crds', ['pos']);
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error.message, /spec\.dependsOn forms a cycle: pos-crds → pos → pos-crds/);
    const self = await apply('lonely', ['lonely']);
    assert.equal(self.statusCode, 400);
    assert.match(self.json().error.message, /cycle: lonely → lonely/);
  });

  test('a bundle others depend on cannot be deleted until they stop depending on it', async () => {
    const r = await hub.operator('DELETE', '/api/v1/bundles/pos-crds');
    assert.equal(r.statusCode, 409);
    assert.match(
      r.json().error.message,
      /bundle pos-crds is a dependency of pos; remove it from their spec\.dependsOn/,
    );
    assert.equal((await hub.operator('GET', '/api/v1/bundles/pos-crds')).statusCode, 200, 'still there');
    assert.equal((await apply('pos')).statusCode, 200);
    assert.equal((await hub.operator('DELETE', '/api/v1/bundles/pos-crds')).statusCode, 204);
  });
});

describe('git sync', () => {
  async function sync(): Promise<SyncResult> {
    const r = await hub.operator('POST', '/api/v1/sources/fleet/sync');
    assert.equal(r.statusCode, 200, r.body);
    return r.json();
  }

  before(async () => {
    assert.equal((await apply('base')).statusCode, 200);
    const r = await hub.operator('POST', '/api/v1/sources', {
      name: 'fleet',
      url: repo.dir,
      ref: 'main',
      intervalSeconds: 3600,
    });
    assert.equal(r.statusCode, 201, r.body);
  });

  test('a bundle from git may depend on one applied by hand', async () => {
    await repo.commit('crds on base', { 'crds/bundle.yaml': bundle('git-crds', ['base']) });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
  });

  test('a commit with a cycle in its own tree is rejected naming it', async () => {
    await repo.commit('cycle', {
      'a/bundle.yaml': bundle('git-a', ['git-b']),
      'b/bundle.yaml': bundle('git-b', ['git-a']),
    });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    assert.ok(result.errors.some((e) => /dependsOn forms a cycle: git-a → git-b → git-a/.test(e.message)));
    await repo.commit('no cycle', { 'a/bundle.yaml': null, 'b/bundle.yaml': null });
    assert.equal((await sync()).status, 'synced');
  });

  test('a cycle through a bundle applied by hand is rejected', async () => {
    assert.equal((await apply('by-hand', ['git-crds'])).statusCode, 200);
    await repo.commit('close a cycle', { 'crds/bundle.yaml': bundle('git-crds', ['by-hand']) });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    assert.deepEqual(
      result.errors.map((e) => [e.file, e.message]),
      [['crds/bundle.yaml', 'spec.dependsOn forms a cycle: git-crds → by-hand → git-crds']],
    );
  });

  test('a commit removing a bundle that another depends on is rejected naming both', async () => {
    await repo.commit('drop crds', { 'crds/bundle.yaml': null });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    assert.match(
      result.errors.map((e) => e.message).join('\n'),
      /bundle git-crds is removed by this commit, but bundle by-hand \(applied by hand\) depends on it/,
    );
    assert.equal((await hub.operator('GET', '/api/v1/bundles/git-crds')).statusCode, 200, 'nothing changed');
  });
});
