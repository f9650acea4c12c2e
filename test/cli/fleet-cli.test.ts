// `outpost plan`, `outpost explain` and `outpost source` as an operator runs them: real CLI processes
// against a real hub, with a local git repository as the source.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { newSiteRow } from '../../src/hub/sites/sites.ts';
import { runOutpost } from '../support/cli.ts';
import { startTestHub, type TestHub } from '../support/fleet.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';

const example = resolve(import.meta.dirname, '..', '..', 'examples', 'fleet');
let fleet: TestHub;
let work: { dir: string; remove(): Promise<void> };
let repo: GitRepo;

before(async () => {
  fleet = await startTestHub();
  work = await tempDir('outpost-fleet-cli-');
  repo = await createRepo(work.dir, 'defs');
});

after(async () => {
  await fleet?.stop();
  await work?.remove();
});

function outpost(args: string[]) {
  return runOutpost(fleet, args);
}

/** A registered, approved site as the store holds it (no agent needed to plan or explain). */
async function addSite(name: string, labels: Record<string, string>, properties: Record<string, unknown>) {
  const db = fleet.hub.ctx.store.db;
  await db
    .insertInto('sites')
    .values(
      newSiteRow({
        id: `id-${name}`,
        name,
        labels: JSON.stringify(labels),
        properties: JSON.stringify(properties),
        lifecycle: 'Active',
        registered_at: new Date().toISOString(),
        machine_id: `m-${name}`,
      }),
    )
    .execute();
}

test('plan -f on the example fleet shows per-site objects, differently customized', async () => {
  await addSite(
    'store-1',
    { region: 'west', format: 'mini' },
    { storeId: 'S-1001', lanes: 2, timezone: 'Europe/Berlin' },
  );
  await addSite(
    'store-2',
    { region: 'west', format: 'max' },
    { storeId: 'S-1002', lanes: 8, timezone: 'Europe/Paris' },
  );
  const r = await outpost(['plan', '-f', example]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^pos\s+new\s+2$/m);
  assert.match(r.stdout, /^store-1 \/ pos: place$/m);
  assert.match(r.stdout, /^ {2}\+ Deployment till$/m);
  // the chart and the kustomization need the repository's whole tree, which a directory is not
  assert.match(r.stdout, /^signage \(\S*signage\/bundle\.yaml\) not planned: made by Helm, .*--source$/m);
  assert.match(r.stdout, /^scanners \(\S*scanners\/bundle\.yaml\) not planned: made by Kustomize/m);
  assert.doesNotMatch(r.stdout, /^(signage|scanners)\s+new/m);
  const json = JSON.parse((await outpost(['plan', '-f', example, '-o', 'json'])).stdout);
  const digests = json.sites
    .filter((s: { bundle: string }) => s.bundle === 'pos')
    .map((s: { digest: string }) => s.digest);
  assert.equal(new Set(digests).size, 2, 'two sites, two renderings');
});

test('plan -f with a mistake prints file:line and exits non-zero', async () => {
  const dir = join(work.dir, 'broken');
  await mkdir(join(dir, 'kiosk'), { recursive: true });
  await writeFile(
    join(dir, 'kiosk', 'bundle.yaml'),
    'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: kiosk}\nspec:\n  placement:\n    selector: {}\n    cel: "labels.region =="\n',
  );
  const r = await outpost(['plan', '-f', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /kiosk\/bundle\.yaml:7: spec\.placement\.cel: CEL/);
});

test('source add, sync and list from a local repository; explain says why', async () => {
  const sha = await repo.commit('pos', {
    'fleet/pos/bundle.yaml':
      'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: shelf}\nspec:\n  placement:\n    selector: {matchLabels: {format: max}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: shelf, namespace: default}\ndata: {store: "${site.properties.storeId}"}\n',
  });
  const added = await outpost([
    'source',
    'add',
    'defs',
    '--url',
    repo.dir,
    '--path',
    'fleet',
    '--interval',
    '3600',
  ]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /secret \(shown once\): \S{20,}/);
  const synced = await outpost(['source', 'sync', 'defs']);
  assert.equal(synced.code, 0, synced.stderr);
  // the hub's poller may have synced the new source first; either way this commit is the synced one
  assert.match(
    synced.stdout,
    new RegExp(`commit ${sha.slice(0, 12)} (synced; changed: shelf; deleted: none|already synced)`),
  );
  const list = await outpost(['source', 'list']);
  assert.match(
    list.stdout,
    new RegExp(`^defs\\s+${repo.dir.replace(/[/.]/g, '\\$&')}\\s+main\\s+${sha.slice(0, 12)}`, 'm'),
  );
  const why = await outpost(['explain', 'shelf', 'store-1']);
  assert.equal(why.code, 0, why.stderr);
  assert.match(why.stdout, /^shelf on store-1: not targeted — the selector does not match: format=max$/m);
  assert.match(why.stdout, /^ {2}✗ format=max$/m);
  const yes = await outpost(['explain', 'shelf', 'store-2']);
  assert.match(yes.stdout, /^shelf on store-2: targeted — the selector matches$/m);
});

test('source add --verify-key stores a cosign public key read from a file; a key of another kind is refused', async () => {
  const pem = (curve: string) =>
    generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ type: 'spki', format: 'pem' });
  await writeFile(join(work.dir, 'cosign.pub'), pem('P-256'));
  await writeFile(join(work.dir, 'p384.pub'), pem('P-384'));
  // nothing listens on port 1: adding a source fetches nothing, and the hub's own poll just fails
  const add = (name: string, key: string) =>
    outpost(['source', 'add', name, '--url', 'oci://127.0.0.1:1/fleet', '--insecure', '--verify-key', key]);
  const added = await add('signed-releases', join(work.dir, 'cosign.pub'));
  assert.equal(added.code, 0, added.stderr);
  const shown = await outpost(['source', 'show', 'signed-releases']);
  assert.match(shown.stdout, /^signatures: cosign, verified with the source key$/m);
  const wrong = await add('p384-releases', join(work.dir, 'p384.pub'));
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /the verify key is an EC key on secp384r1; .* ECDSA P-256/);
});
