// Sources beyond HTTP git, synced end to end on real servers: a repository served by Debian's sshd and
// fetched by the hub with a deploy key and a pinned host key, and fleet artifacts in Debian's
// docker-registry pushed by the real oras as `flux push artifact` writes them, followed by tag and by
// semver range. A wrong host key, a wrong deploy key, an unreachable server, an unreachable registry and
// wrong registry credentials each fail the sync with a message that says which, and nothing changes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SyncResult } from '../../src/model/fleet-wire.ts';
import type { RenderedBundle } from '../../src/render/rendered.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';
import {
  type FleetPusher,
  fleetPusher,
  freePort,
  type Registry,
  registryBin,
  registryUser,
  startRegistry,
} from '../support/registry.ts';
import { type GitSshServer, sshdBin, startGitSshServer } from '../support/ssh-git.ts';
import { missingTools } from '../support/tools.ts';

const sshSkip = sshdBin() ? false : 'sshd not installed (scripts/debian-tool-fixture.sh sshd)';
const ociSkip =
  missingTools('oras') ||
  (registryBin() ? false : 'docker-registry not installed (scripts/debian-tool-fixture.sh)');

let hub: HubServer;
let site: Site;
let work: { dir: string; remove(): Promise<void> };

const hello = (name: string, greeting: string) => ({
  [`${name}/bundle.yaml`]: `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: ${name}}\nspec: {placement: {selector: {}}}\n`,
  [`${name}/config.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: default}\ndata: {greeting: ${greeting}}\n`,
});

async function addSource(body: Record<string, unknown>) {
  return hub.operator('POST', '/api/v1/sources', { intervalSeconds: 3600, ...body });
}

async function sync(name: string): Promise<SyncResult> {
  const r = await hub.operator('POST', `/api/v1/sources/${name}/sync`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function greeting(bundle: string): Promise<unknown> {
  const desired = (await site.call('GET', '/agent/v1/sites/:site/desired')).body as {
    deployments: Array<{ bundle: string; digest: string }>;
  };
  const entry = desired.deployments.find((d) => d.bundle === bundle);
  if (!entry) return undefined;
  const blob = await site.http.request('GET', `/agent/v1/sites/${site.siteId}/blobs/${entry.digest}`, {
    raw: true,
  });
  const data = (JSON.parse(blob.body as string) as RenderedBundle).objects[0]?.data;
  return (data as Record<string, unknown> | undefined)?.greeting;
}

async function revisionsOf(bundle: string) {
  return hub.ctx.store.db
    .selectFrom('bundle_revisions')
    .select(['revision', 'source_commit'])
    .where('bundle', '=', bundle)
    .orderBy('revision')
    .execute()
    .then((rows) => rows.map((r) => ({ revision: Number(r.revision), commit: r.source_commit })));
}

before(async () => {
  work = await tempDir('outpost-source-kinds-');
  hub = await startHubServer({ sourcesDir: `${work.dir}/cache` });
  site = await hub.enroll('store-1', { region: 'west' });
});

after(async () => {
  await hub?.close();
  await work?.remove();
});

describe('git over SSH', { skip: sshSkip, timeout: 120_000 }, () => {
  let server: GitSshServer;
  let repo: GitRepo;
  before(async () => {
    repo = await createRepo(work.dir, 'ssh-fleet');
    server = await startGitSshServer();
    process.env.OUTPOST_TEST_DEPLOY_KEY = server.deployKey.privateKey;
  });
  after(async () => {
    await server?.close();
    delete process.env.OUTPOST_TEST_DEPLOY_KEY;
  });

  test('source add wants a deploy key and a pinned host key, and no password', async () => {
    const url = server.url(repo.dir);
    const noPin = await addSource({
      name: 'no-pin',
      url,
      auth: { privateKeyEnv: 'OUTPOST_TEST_DEPLOY_KEY' },
    });
    assert.equal(noPin.statusCode, 400);
    assert.match(noPin.json().error.message, /knownHosts is required/);
    const password = await addSource({
      name: 'password',
      url,
      auth: { passwordEnv: 'X', privateKeyEnv: 'K', knownHosts: server.knownHosts },
    });
    assert.equal(password.statusCode, 400);
    assert.match(
      password.json().error.message,
      /an SSH source takes a deploy key and knownHosts, not passwordEnv/,
    );
    const keyOnHttp = await addSource({
      name: 'http-key',
      url: 'https://git.example.com/fleet.git',
      auth: { privateKeyFile: '/etc/key' },
    });
    assert.equal(keyOnHttp.statusCode, 400);
  });

  test('a repository fetched with the deploy key lands; a new commit follows', async () => {
    const first = await repo.commit('kiosk', hello('kiosk', 'hello'));
    const r = await addSource({
      name: 'over-ssh',
      url: server.url(repo.dir),
      auth: { privateKeyEnv: 'OUTPOST_TEST_DEPLOY_KEY', knownHosts: server.knownHosts },
    });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.json().source.auth.knownHosts, server.knownHosts);
    const result = await sync('over-ssh');
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.equal(result.commit, first);
    assert.equal(await greeting('kiosk'), 'hello');

    const second = await repo.commit('kiosk says welcome', {
      'kiosk/config.yaml': hello('kiosk', 'welcome')['kiosk/config.yaml']!,
    });
    assert.equal((await sync('over-ssh')).commit, second);
    assert.equal(await greeting('kiosk'), 'welcome');
  });

  test('a wrong host key, a wrong deploy key and an unreachable server fail the sync, and nothing changes', async () => {
    await repo.commit('kiosk says bye', { 'kiosk/config.yaml': hello('kiosk', 'bye')['kiosk/config.yaml']! });
    const before = await revisionsOf('kiosk');
    const other = server.newKey('stranger');
    const [type, key] = other.publicKey.split(' ');
    const spoofedHost = `[127.0.0.1]:${server.port} ${type} ${key}`;
    const unreachable = await freePort();
    const cases = [
      {
        name: 'wrong-host-key',
        url: server.url(repo.dir),
        auth: { privateKeyEnv: 'OUTPOST_TEST_DEPLOY_KEY', knownHosts: spoofedHost },
        says: /the host key of 127\.0\.0\.1:\d+ does not match the pinned knownHosts/,
      },
      {
        name: 'wrong-deploy-key',
        url: server.url(repo.dir),
        auth: { privateKeyFile: other.file, knownHosts: server.knownHosts },
        says: /127\.0\.0\.1:\d+ refused the deploy key \(.*Permission denied \(publickey\)/,
      },
      {
        name: 'unreachable-sshd',
        url: server.url(repo.dir).replace(`:${server.port}/`, `:${unreachable}/`),
        auth: {
          privateKeyEnv: 'OUTPOST_TEST_DEPLOY_KEY',
          knownHosts: server.knownHosts.replace(`:${server.port}]`, `:${unreachable}]`),
        },
        says: /127\.0\.0\.1:\d+ is unreachable \(.*Connection refused/,
      },
    ];
    for (const c of cases) {
      const added = await addSource({ name: c.name, url: c.url, auth: c.auth });
      assert.equal(added.statusCode, 201, added.body);
      const result = await sync(c.name);
      assert.equal(result.status, 'failed', c.name);
      assert.match(result.errors[0]!.message, c.says, c.name);
      assert.equal(result.errors[0]!.code, 'source_failed');
      const view = (await hub.operator('GET', `/api/v1/sources/${c.name}`)).json();
      assert.match(view.lastError, c.says);
      assert.equal(view.synced, null);
    }
    assert.deepEqual(await revisionsOf('kiosk'), before, 'nothing of the new commit was applied');
    assert.equal(await greeting('kiosk'), 'welcome');
  });
});

describe('OCI artifacts', { skip: ociSkip, timeout: 180_000 }, () => {
  let registry: Registry;
  let pusher: FleetPusher;
  before(async () => {
    registry = await startRegistry({ auth: true });
    pusher = fleetPusher(registry, work.dir);
    process.env.OUTPOST_TEST_REGISTRY_PASSWORD = registryUser.password;
  });
  after(async () => {
    await registry?.close();
    delete process.env.OUTPOST_TEST_REGISTRY_PASSWORD;
  });

  const auth = { username: registryUser.username, passwordEnv: 'OUTPOST_TEST_REGISTRY_PASSWORD' };

  test('source add checks the reference and the range', async () => {
    const both = await addSource({
      name: 'both',
      url: `oci://${registry.host}/fleet`,
      ref: 'v1',
      semver: '~1',
    });
    assert.equal(both.statusCode, 400);
    const badRange = await addSource({
      name: 'bad-range',
      url: `oci://${registry.host}/fleet`,
      semver: 'soon',
    });
    assert.equal(badRange.statusCode, 400);
    assert.match(badRange.json().error.message, /soon is not a semver range/);
    const withTag = await addSource({ name: 'with-tag', url: `oci://${registry.host}/fleet:1.0.0` });
    assert.equal(withTag.statusCode, 400);
    const sshAuth = await addSource({
      name: 'ssh-auth',
      url: `oci://${registry.host}/fleet`,
      auth: { knownHosts: 'x' },
    });
    assert.equal(sshAuth.statusCode, 400);
  });

  test('the highest tag in the range lands, pinned by digest; a newer tag in range follows', async () => {
    await pusher.push('fleet', '1.4.2', hello('printer', 'old'));
    await pusher.push('fleet', '1.4.3', hello('printer', 'current'));
    await pusher.push('fleet', '2.0.0', hello('printer', 'too-new'));
    const r = await addSource({
      name: 'artifacts',
      url: `oci://${registry.host}/fleet`,
      semver: '>=1.4.0 <2.0.0',
      insecure: true,
      auth,
    });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.json().source.kind, 'oci');
    const first = await sync('artifacts');
    assert.equal(first.status, 'synced', JSON.stringify(first.errors));
    assert.match(first.commit!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await greeting('printer'), 'current');
    assert.deepEqual(await revisionsOf('printer'), [{ revision: 1, commit: first.commit }]);
    assert.equal((await sync('artifacts')).status, 'unchanged');

    await pusher.push('fleet', '1.5.0', hello('printer', 'newer'));
    const second = await sync('artifacts');
    assert.equal(second.status, 'synced');
    assert.notEqual(second.commit, first.commit);
    assert.equal(await greeting('printer'), 'newer');
  });

  test('an unreachable registry and wrong credentials fail the sync, and nothing changes', async () => {
    await pusher.push('fleet', '1.5.1', hello('printer', 'never'));
    const before = await revisionsOf('printer');
    const cases = [
      {
        name: 'unreachable-registry',
        url: `oci://127.0.0.1:${await freePort()}/fleet`,
        auth,
        says: /the registry 127\.0\.0\.1:\d+ is unreachable: ECONNREFUSED/,
      },
      {
        name: 'wrong-credentials',
        url: `oci://${registry.host}/fleet`,
        auth: { username: 'fleet-reader', passwordEnv: 'OUTPOST_TEST_WRONG_PASSWORD' },
        says: /the registry 127\.0\.0\.1:\d+ refused the credentials for fleet \(HTTP 401\)/,
      },
      {
        name: 'no-credentials',
        url: `oci://${registry.host}/fleet`,
        auth: {},
        says: /needs credentials \(username, passwordEnv\)/,
      },
    ];
    process.env.OUTPOST_TEST_WRONG_PASSWORD = 'not-the-password';
    try {
      for (const c of cases) {
        const added = await addSource({
          name: c.name,
          url: c.url,
          semver: '~1.5',
          insecure: true,
          auth: c.auth,
        });
        assert.equal(added.statusCode, 201, added.body);
        const result = await sync(c.name);
        assert.equal(result.status, 'failed', c.name);
        assert.match(result.errors[0]!.message, c.says, c.name);
        assert.ok(!JSON.stringify(result).includes('not-the-password'));
      }
    } finally {
      delete process.env.OUTPOST_TEST_WRONG_PASSWORD;
    }
    assert.deepEqual(await revisionsOf('printer'), before, 'nothing of the new artifact was applied');
    assert.equal(await greeting('printer'), 'newer');
  });
});
