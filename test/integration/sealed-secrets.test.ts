// Sealed secrets end to end on a real kube-apiserver with real agents: `outpost secret seal` fetches the
// sites' keys and seals; the hub stores, logs and serves only ciphertext; each agent opens its own values
// and applies a plain Secret; a site cannot open another site's value and that bundle alone fails; a site
// replaced (new key) fails until the Secret is sealed again, with one command, and then applies.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { sealingContext } from '../../src/model/sealed-secret.ts';
import { sealValue } from '../../src/pki/sealing.ts';
import { runOutpost } from '../support/cli.ts';
import { eventually } from '../support/eventually.ts';
import { type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kube: KubeFixture;
let fleet: TestHub;
let storeA: RunningAgent;
let storeB: RunningAgent;
const hubLog: string[] = [];

// plaintexts that appear nowhere else, so a match anywhere can only be a leak
const firstPassword = `pw-${randomBytes(12).toString('hex')}`;
const apiToken = `tok-${randomBytes(12).toString('hex')}`;
const rotatedPassword = `pw2-${randomBytes(12).toString('hex')}`;

before(async () => {
  kube = await startKube();
  fleet = await startTestHub({
    logger: {
      level: 'trace',
      stream: new Writable({
        write(chunk, _enc, done) {
          hubLog.push(String(chunk));
          done();
        },
      }),
    },
  });
  storeA = await startAgent(fleet, kube.kubeconfigPath, { name: 'store-a', labels: { store: 'a' } });
  storeB = await startAgent(fleet, kube.kubeconfigPath, { name: 'store-b', labels: { store: 'b' } });
  await eventually('both sites and their sealing keys', async () => {
    const keys = await fleet.api.sealingKeys({ site: ['store-a', 'store-b'] });
    return keys.sites.length === 2;
  });
});

after(async () => {
  await storeA?.stop();
  await storeB?.stop();
  await fleet?.stop();
  await kube?.stop();
});

function bundleYaml(name: string, store: string, namespace: string, extra = ''): string {
  return `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: ${name}}
spec:
  namespace: ${namespace}
  placement: {selector: {matchLabels: {store: ${store}}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ${namespace}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {lanes: "4"}
${extra ? `---\n${extra}` : ''}`;
}

async function deployment(site: string, bundle: string) {
  return (await fleet.api.site(site)).deployments.find((d) => d.bundle === bundle);
}

async function secretData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const r = await kube.request('GET', `/api/v1/namespaces/${namespace}/secrets/${name}`);
  if (r.status !== 200) return undefined;
  return Object.fromEntries(
    Object.entries(r.body.data as Record<string, string>).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString(),
    ]),
  );
}

/** Every file under `dir`, as bytes. */
async function filesUnder(dir: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ path, bytes: await readFile(path) });
  }
  return out;
}

/** The plaintext as text, and in the base64 a Secret's data or a JSON body would carry it. */
function forms(plain: string): string[] {
  return [plain, Buffer.from(plain).toString('base64'), Buffer.from(plain).toString('base64url')];
}

async function seal(secretYaml: string, ...args: string[]) {
  const dir = join(fleet.dir, `seal-${randomBytes(4).toString('hex')}`);
  await mkdir(dir);
  const secretFile = join(dir, 'secret.yaml');
  const out = join(dir, 'sealed.yaml');
  await writeFile(secretFile, secretYaml);
  const run = await runOutpost(fleet, ['secret', 'seal', '-f', secretFile, '--out', out, ...args]);
  assert.equal(run.code, 0, run.stderr);
  const sealed = await readFile(out, 'utf8');
  await rm(secretFile);
  return { sealed, stderr: run.stderr };
}

const tillSecret = (password: string) => `apiVersion: v1
kind: Secret
metadata: {name: till-credentials, labels: {app: till}}
stringData: {password: "${password}"}
data: {api-token: ${Buffer.from(apiToken).toString('base64')}}
`;

test('seal → sync → apply: the site gets a plain Secret, the hub never holds or logs the values', async () => {
  await fleet.api.applyBundle({ files: [{ path: 'pos.yaml', content: bundleYaml('pos', 'a', 'pos-a') }] });
  await eventually(
    'pos to be Ready on store-a',
    async () => (await deployment('store-a', 'pos'))?.state === 'Ready',
  );

  const { sealed, stderr } = await seal(tillSecret(firstPassword), '--bundle', 'pos');
  assert.match(
    stderr,
    /sealed 2 key\(s\) of Secret till-credentials for 1 site\(s\): store-a \(key [0-9a-f]{16}\)/,
  );
  assert.match(sealed, /kind: SealedSecret/);
  assert.match(
    sealed,
    /namespace: pos-a/,
    "the bundle's namespace is written in, as the values are bound to it",
  );
  for (const f of [...forms(firstPassword), ...forms(apiToken)]) assert.ok(!sealed.includes(f));

  await fleet.api.applyBundle({
    files: [{ path: 'pos.yaml', content: bundleYaml('pos', 'a', 'pos-a', sealed) }],
  });
  await eventually('the Secret to be applied on store-a', async () => {
    const d = await deployment('store-a', 'pos');
    return d?.state === 'Ready' && d.counts.total === 3;
  });
  assert.deepEqual(await secretData('pos-a', 'till-credentials'), {
    'api-token': apiToken,
    password: firstPassword,
  });
  const secret = (await kube.request('GET', '/api/v1/namespaces/pos-a/secrets/till-credentials')).body;
  assert.equal(secret.type, 'Opaque');
  assert.equal(secret.metadata.labels.app, 'till');
  assert.equal(secret.metadata.labels['outpost.dev/bundle'], 'pos');

  // What the hub stores (the SQLite file and its WAL), what it logged, what the operator API and the
  // site's own disk and status page hold: ciphertext at most, never a value.
  const rendered = await fleet.hub.app.inject({
    method: 'GET',
    url: '/api/v1/bundles/pos/rendered?site=store-a',
    headers: { authorization: `Bearer ${fleet.adminToken}` },
  });
  assert.equal(rendered.statusCode, 200);
  assert.match(rendered.body, /SealedSecret/);
  const places = [
    ...(await filesUnder(fleet.dir)).filter((f) => /hub\.db/.test(f.path)),
    { path: 'hub log', bytes: Buffer.from(hubLog.join('')) },
    { path: 'rendered view', bytes: Buffer.from(rendered.body) },
    ...(await filesUnder(storeA.stateDir)),
    { path: 'status.json', bytes: Buffer.from(JSON.stringify(storeA.agent.status())) },
  ];
  assert.ok(
    places.some((p) => p.path.endsWith('hub.db')),
    'the database file was read',
  );
  assert.ok(hubLog.join('').includes('/agent/v1/sites/'), 'the log was captured');
  for (const place of places)
    for (const plain of [firstPassword, apiToken])
      for (const form of forms(plain))
        assert.ok(!place.bytes.includes(form), `${place.path} holds a secret value (${form})`);
});

test("a site cannot open another site's value: that bundle fails there, its other bundles stay Ready", async () => {
  await fleet.api.applyBundle({
    files: [{ path: 'menu-b.yaml', content: bundleYaml('menu-b', 'b', 'menu-b') }],
  });
  const keys = await fleet.api.sealingKeys({ site: ['store-a', 'store-b'] });
  const keyA = keys.sites.find((s) => s.site === 'store-a')!;
  const keyB = keys.sites.find((s) => s.site === 'store-b')!;
  // store-a's value filed under store-b's name: what the hub serves store-b is not sealed to its key
  const value = await sealValue(
    keyA.publicKey,
    new TextEncoder().encode('for store-a only'),
    sealingContext('pos-b', 'till', 'password'),
  );
  const stolen = `apiVersion: outpost.dev/v1
kind: SealedSecret
metadata: {name: till, namespace: pos-b}
spec:
  encryptedData:
    password: {store-b: ${value}}
`;
  await fleet.api.applyBundle({
    files: [{ path: 'pos-b.yaml', content: bundleYaml('pos-b', 'b', 'pos-b', stolen) }],
  });
  const failed = await eventually('pos-b to fail on store-b', async () => {
    const d = await deployment('store-b', 'pos-b');
    return d?.state === 'Failed' ? d : undefined;
  });
  assert.match(
    failed.message,
    new RegExp(
      `SealedSecret pos-b/till key password is sealed to key ${keyA.keyId}, but this site's sealing key is ${keyB.keyId}`,
    ),
  );
  assert.match(failed.message, /outpost secret seal -f FILE --bundle pos-b/);
  assert.equal((await kube.request('GET', '/api/v1/namespaces/pos-b/secrets/till')).status, 404);
  assert.equal((await deployment('store-b', 'menu-b'))?.state, 'Ready');
  assert.equal((await deployment('store-a', 'pos'))?.state, 'Ready');
});

test('a site replaced with a new key fails until the Secret is sealed again, then applies the new value', async () => {
  const before = (await fleet.api.sealingKeys({ site: ['store-a'] })).sites[0]!;
  // a factory reset: same machine, wiped state directory, so a new sealing key at registration
  await storeA.stop();
  await rm(storeA.stateDir, { recursive: true, force: true });
  storeA = await startAgent(fleet, kube.kubeconfigPath, {
    name: 'store-a',
    labels: { store: 'a' },
    stateDir: storeA.stateDir,
  });
  const after = await eventually('the new key to reach the hub', async () => {
    const k = (await fleet.api.sealingKeys({ site: ['store-a'] })).sites[0];
    return k && k.keyId !== before.keyId ? k : undefined;
  });
  const keyFile = await stat(join(storeA.stateDir, 'sealing-key.json'));
  assert.equal(keyFile.mode & 0o777, 0o600);

  const stale = await eventually('pos to fail on the replaced site', async () => {
    const d = await deployment('store-a', 'pos');
    return d?.state === 'Failed' && /sealed to key/.test(d.message) ? d : undefined;
  });
  assert.match(
    stale.message,
    new RegExp(`sealed to key ${before.keyId}, but this site's sealing key is ${after.keyId}`),
  );
  // the Secret applied before the reset keeps running meanwhile
  assert.equal((await secretData('pos-a', 'till-credentials'))?.password, firstPassword);

  const { sealed } = await seal(tillSecret(rotatedPassword), '--bundle', 'pos');
  await fleet.api.applyBundle({
    files: [{ path: 'pos.yaml', content: bundleYaml('pos', 'a', 'pos-a', sealed) }],
  });
  await eventually(
    'the newly sealed value to be applied',
    async () => (await secretData('pos-a', 'till-credentials'))?.password === rotatedPassword,
  );
  await eventually(
    'pos to be Ready again',
    async () => (await deployment('store-a', 'pos'))?.state === 'Ready',
  );
  for (const form of forms(rotatedPassword))
    assert.ok(!hubLog.join('').includes(form), 'the rotated value is not in the hub log either');
});

test('sealing for a bundle placed nowhere, or with the wrong options, is refused with a clear error', async () => {
  const none = await runOutpost(fleet, [
    'secret',
    'seal',
    '-f',
    '/nonexistent.yaml',
    '--bundle',
    'pos',
    '--site',
    'x',
  ]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /give --bundle or --site, not both/);
  const dir = join(fleet.dir, 'nowhere');
  await mkdir(dir);
  await writeFile(join(dir, 's.yaml'), tillSecret('x'));
  await fleet.api.applyBundle({
    files: [{ path: 'empty.yaml', content: bundleYaml('empty', 'nobody', 'empty') }],
  });
  const nowhere = await runOutpost(fleet, ['secret', 'seal', '-f', join(dir, 's.yaml'), '--bundle', 'empty']);
  assert.notEqual(nowhere.code, 0);
  assert.match(nowhere.stderr, /bundle empty is placed on no site/);
  const missing = await runOutpost(fleet, ['secret', 'seal', '-f', join(dir, 's.yaml'), '--bundle', 'nope']);
  assert.match(missing.stderr, /not_found.*no bundle named nope|no bundle named nope/);
});

test('the sealing-key route needs an API token', async () => {
  const res = await fleet.hub.app.inject({ method: 'GET', url: '/api/v1/sealing-keys?bundle=pos' });
  assert.equal(res.statusCode, 401);
  const wrong = await fleet.hub.app.inject({
    method: 'GET',
    url: '/api/v1/sealing-keys?bundle=pos',
    headers: { authorization: 'Bearer oat_wrong' },
  });
  assert.equal(wrong.statusCode, 401);
  const neither = await fleet.hub.app.inject({
    method: 'GET',
    url: '/api/v1/sealing-keys',
    headers: { authorization: `Bearer ${fleet.adminToken}` },
  });
  assert.equal(neither.statusCode, 400);
});
