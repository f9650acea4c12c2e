// Cosign signatures on OCI sources, end to end on real parts: fleet artifacts pushed by the real oras to
// Debian's docker-registry, key pairs made and artifacts signed by the real cosign (key based, no
// transparency log, nothing but 127.0.0.1 contacted). A source with a verify key syncs a revision signed
// by that key; an unsigned one, one signed by another key, a signature copied from another digest and a
// payload altered after signing each fail the sync with signature_invalid, and nothing of them is applied.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { signatureAnnotation, simpleSigningMediaType } from '../../src/hub/sources/core/cosign.ts';
import type { SyncResult } from '../../src/model/fleet-wire.ts';
import { tempDir } from '../support/git-server.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';
import {
  type FleetPusher,
  fleetPusher,
  type Registry,
  registryBin,
  registryUser,
  startRegistry,
} from '../support/registry.ts';
import { missingTools, runTool } from '../support/tools.ts';

const skip =
  missingTools('oras', 'cosign') ||
  (registryBin() ? false : 'docker-registry not installed (scripts/debian-tool-fixture.sh)');

let hub: HubServer;
let site: Site;
let registry: Registry;
let pusher: FleetPusher;
let work: { dir: string; remove(): Promise<void> };
const keys: Record<'trusted' | 'other', { key: string; pub: string }> = {
  trusted: { key: '', pub: '' },
  other: { key: '', pub: '' },
};
const auth = { username: registryUser.username, passwordEnv: 'OUTPOST_TEST_REGISTRY_PASSWORD' };

/** cosign with the registry login oras made, its own home and a key password, kept to 127.0.0.1. */
function cosign(args: string[], cwd = work.dir): string {
  return runTool('cosign', args, {
    cwd,
    env: {
      HOME: join(work.dir, 'home'),
      DOCKER_CONFIG: join(work.dir, 'docker'),
      COSIGN_PASSWORD: 'outpost-test-key',
      SIGSTORE_NO_CACHE: 'true',
      // Go sends every request but those to loopback through these: any reach for a public sigstore
      // service (Rekor, Fulcio, TUF) would fail the test instead of leaving the machine
      HTTPS_PROXY: 'http://127.0.0.1:9',
      HTTP_PROXY: 'http://127.0.0.1:9',
      NO_PROXY: '',
    },
  });
}

function oras(args: string[], cwd = work.dir): string {
  return runTool('oras', [...args, '--plain-http', '--registry-config', pusher.config], {
    cwd,
  });
}

const hello = (name: string, greeting: string) => ({
  [`${name}/bundle.yaml`]: `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: ${name}}\nspec: {placement: {selector: {}}}\n`,
  [`${name}/config.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: default}\ndata: {greeting: ${greeting}}\n`,
});

/** Pushes a fleet artifact and returns its manifest digest. */
async function pushFleet(repo: string, bundle: string): Promise<string> {
  await pusher.push(repo, '1.0.0', hello(bundle, 'hello'));
  const fetched = oras(['manifest', 'fetch', '--descriptor', `${registry.host}/${repo}:1.0.0`]);
  return (JSON.parse(fetched) as { digest: string }).digest;
}

function sign(repo: string, digest: string, by: keyof typeof keys): void {
  cosign([
    'sign',
    '--key',
    keys[by].key,
    '--tlog-upload=false',
    '--allow-http-registry',
    '--allow-insecure-registry',
    '--yes',
    `${registry.host}/${repo}@${digest}`,
  ]);
}

async function addSource(name: string, repo: string, verifyKey = keys.trusted.pub) {
  return hub.operator('POST', '/api/v1/sources', {
    name,
    url: `oci://${registry.host}/${repo}`,
    ref: '1.0.0',
    insecure: true,
    auth,
    verifyKey: await readFile(verifyKey, 'utf8'),
    intervalSeconds: 3600,
  });
}

async function sync(name: string): Promise<SyncResult> {
  const r = await hub.operator('POST', `/api/v1/sources/${name}/sync`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function bundleExists(bundle: string): Promise<boolean> {
  const row = await hub.ctx.store.db
    .selectFrom('bundles')
    .select('name')
    .where('name', '=', bundle)
    .executeTakeFirst();
  return row !== undefined;
}

/** Adds a source for `repo` and syncs it once, expecting a signature refusal; returns the refusal. */
async function refused(name: string, repo: string, bundle: string, verifyKey?: string) {
  const added = await addSource(name, repo, verifyKey);
  assert.equal(added.statusCode, 201, added.body);
  const result = await sync(name);
  assert.equal(result.status, 'failed', JSON.stringify(result));
  assert.equal(result.errors[0]?.code, 'signature_invalid');
  assert.equal(await bundleExists(bundle), false, 'nothing of the refused revision was applied');
  const view = (await hub.operator('GET', `/api/v1/sources/${name}`)).json();
  assert.equal(view.lastError, result.errors[0]!.message, 'the source shows why');
  assert.equal(view.synced, null);
  return result.errors[0]!.message;
}

before(async () => {
  if (skip) return;
  work = await tempDir('outpost-oci-signatures-');
  hub = await startHubServer({ sourcesDir: join(work.dir, 'cache') });
  site = await hub.enroll('store-1', { region: 'west' });
  registry = await startRegistry({ auth: true });
  pusher = fleetPusher(registry, work.dir);
  // cosign reads the registry login from a Docker config, the format oras wrote it in
  await mkdir(join(work.dir, 'docker'), { recursive: true });
  await writeFile(join(work.dir, 'docker', 'config.json'), await readFile(pusher.config));
  for (const who of ['trusted', 'other'] as const) {
    await mkdir(join(work.dir, who), { recursive: true });
    cosign(['generate-key-pair'], join(work.dir, who));
    keys[who] = { key: join(work.dir, who, 'cosign.key'), pub: join(work.dir, who, 'cosign.pub') };
  }
  process.env.OUTPOST_TEST_REGISTRY_PASSWORD = registryUser.password;
});

after(async () => {
  delete process.env.OUTPOST_TEST_REGISTRY_PASSWORD;
  await hub?.close();
  await registry?.close();
  await work?.remove();
});

describe('cosign signatures on OCI sources', { skip, timeout: 240_000 }, () => {
  test('cosign stores a key-based signature as a simple-signing layer at the sha256-<hex>.sig tag', async () => {
    const digest = await pushFleet('layout', 'layout');
    sign('layout', digest, 'trusted');
    const tag = `sha256-${digest.slice('sha256:'.length)}.sig`;
    const manifest = JSON.parse(oras(['manifest', 'fetch', `${registry.host}/layout:${tag}`])) as {
      layers: Array<{ mediaType: string; digest: string; annotations: Record<string, string> }>;
    };
    assert.equal(manifest.layers.length, 1);
    const layer = manifest.layers[0]!;
    assert.equal(layer.mediaType, simpleSigningMediaType);
    assert.match(layer.annotations[signatureAnnotation]!, /^[A-Za-z0-9+/]+=*$/);
    const payload = JSON.parse(
      oras(['blob', 'fetch', '--output', '-', `${registry.host}/layout@${layer.digest}`]),
    );
    assert.equal(payload.critical.image['docker-manifest-digest'], digest);
    assert.equal(payload.critical.identity['docker-reference'], `${registry.host}/layout`);
    assert.equal(payload.critical.type, 'cosign container image signature');
  });

  test('a revision signed with the source key lands, and cosign itself agrees', async () => {
    const digest = await pushFleet('signed', 'kiosk');
    sign('signed', digest, 'trusted');
    const added = await addSource('signed', 'signed');
    assert.equal(added.statusCode, 201, added.body);
    assert.equal(added.json().source.verifyKey, await readFile(keys.trusted.pub, 'utf8'));
    const result = await sync('signed');
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.equal(result.commit, digest);
    assert.equal(await bundleExists('kiosk'), true);
    const desired = (await site.call('GET', '/agent/v1/sites/:site/desired')).body as {
      deployments: Array<{ bundle: string }>;
    };
    assert.ok(desired.deployments.some((d) => d.bundle === 'kiosk'));
    cosign([
      'verify',
      '--key',
      keys.trusted.pub,
      '--insecure-ignore-tlog=true',
      '--allow-http-registry',
      '--allow-insecure-registry',
      `${registry.host}/signed@${digest}`,
    ]);
  });

  test('an unsigned revision is refused until it is signed, then lands on the next sync', async () => {
    const digest = await pushFleet('unsigned', 'printer');
    const message = await refused('unsigned', 'unsigned', 'printer');
    assert.equal(message, `unsigned@${digest} has no cosign signature`);
    sign('unsigned', digest, 'trusted');
    const later = await sync('unsigned');
    assert.equal(later.status, 'synced', JSON.stringify(later.errors));
    assert.equal(await bundleExists('printer'), true);
  });

  test('a revision signed only by another key is refused', async () => {
    const digest = await pushFleet('other-key', 'scale');
    sign('other-key', digest, 'other');
    const message = await refused('other-key', 'other-key', 'scale');
    assert.match(message, /other-key@sha256:[0-9a-f]{64} has no valid cosign signature by the source key/);
    assert.match(message, /a signature does not verify with the source key/);
  });

  test('a good signature copied to another digest is refused: its payload names the first one', async () => {
    const signedDigest = await pushFleet('replayed', 'camera');
    sign('replayed', signedDigest, 'trusted');
    await pusher.push('replayed', '2.0.0', hello('camera', 'evil'));
    const target = JSON.parse(oras(['manifest', 'fetch', '--descriptor', `${registry.host}/replayed:2.0.0`]))
      .digest as string;
    const hex = (d: string) => d.slice('sha256:'.length);
    oras(['tag', `${registry.host}/replayed:sha256-${hex(signedDigest)}.sig`, `sha256-${hex(target)}.sig`]);
    oras(['tag', `${registry.host}/replayed:2.0.0`, '1.0.0']);
    const message = await refused('replayed', 'replayed', 'camera');
    assert.match(message, new RegExp(`the signed payload is for ${signedDigest}, not ${target}`));
  });

  test('a payload altered after signing is refused', async () => {
    const digest = await pushFleet('tampered', 'signage');
    sign('tampered', digest, 'trusted');
    const tag = `sha256-${digest.slice('sha256:'.length)}.sig`;
    const original = JSON.parse(oras(['manifest', 'fetch', `${registry.host}/tampered:${tag}`])).layers[0];
    const payload = JSON.parse(
      oras(['blob', 'fetch', '--output', '-', `${registry.host}/tampered@${original.digest}`]),
    );
    payload.optional = { note: 'added after signing' };
    const dir = join(work.dir, 'tampered-sig');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'payload.json'), JSON.stringify(payload));
    await writeFile(
      join(dir, 'annotations.json'),
      JSON.stringify({
        'payload.json': { [signatureAnnotation]: original.annotations[signatureAnnotation] },
      }),
    );
    oras(
      [
        'push',
        `${registry.host}/tampered:${tag}`,
        '--annotation-file',
        'annotations.json',
        `payload.json:${simpleSigningMediaType}`,
      ],
      dir,
    );
    const message = await refused('tampered', 'tampered', 'signage');
    assert.match(message, /a signature does not verify with the source key/);
  });
});

test('source add takes a cosign public key only for OCI sources, and only an ECDSA P-256 one', async (t) => {
  if (skip) return t.skip(skip);
  const add = (body: Record<string, unknown>) =>
    hub.operator('POST', '/api/v1/sources', { url: `oci://${registry.host}/fleet`, insecure: true, ...body });
  const notPem = await add({ name: 'not-pem', verifyKey: 'cosign.pub' });
  assert.equal(notPem.statusCode, 400);
  assert.match(notPem.json().error.message, /the verify key is not a PEM public key/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
    type: 'spki',
    format: 'pem',
  });
  const rsaKey = await add({ name: 'rsa', verifyKey: rsa });
  assert.equal(rsaKey.statusCode, 400);
  assert.match(
    rsaKey.json().error.message,
    /the verify key is a key of type rsa; cosign key pairs .* are ECDSA P-256/,
  );
  const onGit = await hub.operator('POST', '/api/v1/sources', {
    name: 'git-key',
    url: 'https://git.example.com/fleet.git',
    verifyKey: await readFile(keys.trusted.pub, 'utf8'),
  });
  assert.equal(onGit.statusCode, 400);
  assert.match(onGit.json().error.message, /verifyKey are for OCI sources/);
});
