// The outpost command as an operator runs it: real processes against a real hub, checking output,
// JSON, exit codes and the error lines that point at a file and line.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { HubClient } from '../../src/agent/hub-client.ts';
import { findLostRelays } from '../../src/hub/relays/relays.ts';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import { cliPath as cli, runOutpost } from '../support/cli.ts';
import { startTestHub, type TestHub } from '../support/fleet.ts';

let fleet: TestHub;
let dir: string;

before(async () => {
  fleet = await startTestHub();
  dir = await mkdtemp(join(tmpdir(), 'outpost-cli-'));
});

after(async () => {
  await fleet?.stop();
  await rm(dir, { recursive: true, force: true });
});

function outpost(args: string[], env: Record<string, string> = {}) {
  return runOutpost(fleet, args, env);
}

/** Registers a site through the agent API, as an agent would (machine id, CSR, join token). */
async function registerSite(name: string, labels: Record<string, string>): Promise<void> {
  const agentApi = new HubClient(fleet.hub.url, fleet.hub.caPem);
  try {
    await agentApi.register({
      token: decodeJoinToken(fleet.joinToken)!.token,
      machineId: `machine-${name}-0001`,
      name,
      labels,
      csr: createCsr({ commonName: name, keyPem: generateKeyPair().privateKeyPem }),
    });
  } finally {
    agentApi.close();
  }
}

test('bundle apply takes a directory of YAML and reports the revision', async () => {
  const r = await outpost([
    'bundle',
    'apply',
    '-f',
    resolve(import.meta.dirname, '..', '..', 'examples', 'fleet', 'hello'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^bundle hello revision 1 applied; placed on 0 site\(s\)$/m);
  const again = await outpost([
    'bundle',
    'apply',
    '-f',
    resolve(import.meta.dirname, '..', '..', 'examples', 'fleet', 'hello'),
    '-o',
    'json',
  ]);
  assert.deepEqual(JSON.parse(again.stdout), { bundle: 'hello', revision: 1, changed: false, targeted: 0 });
});

test('a bad manifest exits 1 with file:line, message and code', async () => {
  const file = join(dir, 'bad.yaml');
  await writeFile(
    file,
    'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: bad}\nspec: {placement: {selector: {}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n',
  );
  const r = await outpost(['bundle', 'apply', '-f', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^outpost: .*bad\.yaml:\d+: invalid YAML: .* \(manifest_invalid\)$/m);
});

test('reads print JSON with -o json', async () => {
  const sites = await outpost(['sites', '-o', 'json']);
  assert.equal(sites.code, 0, sites.stderr);
  assert.ok(Array.isArray(JSON.parse(sites.stdout)));
  const bundles = await outpost(['bundle', 'list', '-o', 'json']);
  assert.equal(JSON.parse(bundles.stdout).find((b: { name: string }) => b.name === 'hello').objects, 3);
  const status = await outpost(['status', '-o', 'json']);
  assert.equal(typeof JSON.parse(status.stdout).sites.total, 'number');
});

test('status names a lost relay', async () => {
  await fleet.api.createRelay({ name: 'south', selector: { matchLabels: { region: 'south' } } });
  const quiet = await outpost(['status']);
  assert.doesNotMatch(quiet.stdout, /relay south/);
  // a relay last heard from long ago, as the hub's sweep finds it
  const { ctx } = fleet.hub;
  const past = new Date(Date.now() - 3600_000).toISOString();
  await ctx.store.db.updateTable('relays').set({ last_seen_at: past }).where('name', '=', 'south').execute();
  await findLostRelays(ctx);
  const status = await outpost(['status']);
  assert.match(status.stdout, /relay south lost since \S+: its sites are Stale via it/);
  assert.deepEqual(JSON.parse((await outpost(['status', '-o', 'json'])).stdout).lostRelays, ['south']);
});

test('a wrong token and an unreachable hub are clear failures', async () => {
  const denied = await outpost(['sites'], { OUTPOST_TOKEN: 'wrong' });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /invalid or revoked API token \(unauthorized\)/);
  const down = await outpost(['status'], { OUTPOST_HUB: 'https://127.0.0.1:1' });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the hub at https:\/\/127\.0\.0\.1:1/);
  const untrusted = await outpost(['status'], { OUTPOST_CA_FILE: '' });
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /OUTPOST_CA_FILE/);
});

test('an unknown site is not_found, and a bad option is a usage error', async () => {
  const missing = await outpost(['sites', 'nowhere']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no site named nowhere \(not_found\)/);
  const usage = await outpost(['bundle', 'apply']);
  assert.notEqual(usage.code, 0);
  assert.match(usage.stderr, /required option '-f, --file <path>'/);
});

test('label sets and removes site labels, and placement follows', async () => {
  await registerSite('store-cli', { region: 'east', legacy: 'yes' });
  const r = await outpost(['label', 'store-cli', 'region=west', 'legacy-']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^store-cli labels: region=west$/m);
  const site = JSON.parse((await outpost(['sites', 'store-cli', '-o', 'json'])).stdout);
  assert.deepEqual(site.labels, { region: 'west' });
  // the example bundle places on region=west
  assert.deepEqual(
    site.deployments.map((d: { bundle: string }) => d.bundle),
    ['hello'],
  );
});

test('a viewer token reads but cannot change anything', async () => {
  const created = await outpost(['apitoken', 'create', 'cli-viewer', '--role', 'viewer']);
  assert.equal(created.code, 0, created.stderr);
  const token = /shown once: (\S+)/.exec(created.stdout)![1]!;
  assert.equal((await outpost(['sites'], { OUTPOST_TOKEN: token })).code, 0);
  const denied = await outpost(['label', 'store-cli', 'region=north'], { OUTPOST_TOKEN: token });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /needs the operator role.*\(forbidden\)/);
});

test('token create prints a join token once, and token list shows its uses', async () => {
  const created = await outpost([
    'token',
    'create',
    '--label',
    'region=west',
    '--max-uses',
    '2',
    '-o',
    'json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const body = JSON.parse(created.stdout);
  assert.match(body.joinToken, /^outpost-join-v1\./);
  const listed = JSON.parse((await outpost(['token', 'list', '-o', 'json'])).stdout);
  const mine = listed.find((t: { id: string }) => t.id === body.token.id);
  assert.deepEqual([mine.uses, mine.maxUses, mine.labels], [0, 2, { region: 'west' }]);
  assert.equal(JSON.stringify(listed).includes(body.joinToken), false, 'the secret is not listed');
  const audit = await outpost(['audit', '-o', 'json']);
  assert.ok(JSON.parse(audit.stdout).some((e: { action: string }) => e.action === 'bootstrap_token.create'));
});

test('query groups sites by label and prints a table; -o json lists sites with a selector', async () => {
  for (const [name, region] of [
    ['store-q1', 'north'],
    ['store-q2', 'north'],
    ['store-q3', 'south'],
  ] as const) {
    await registerSite(name, { region, format: 'mini' });
  }
  const grouped = await outpost([
    'query',
    '-l',
    'format=mini',
    '--group-by',
    'label:region',
    '--sort',
    '-count',
  ]);
  assert.equal(grouped.code, 0, grouped.stderr);
  assert.match(grouped.stdout, /^LABEL:REGION\s+COUNT$/m);
  assert.match(grouped.stdout, /^north\s+2$/m);
  assert.match(grouped.stdout, /^south\s+1$/m);
  const listed = await outpost([
    'query',
    '--selector-json',
    '{"matchLabels":{"region":"north"}}',
    '-o',
    'json',
  ]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    JSON.parse(listed.stdout).sites.map((s: { name: string }) => s.name),
    ['store-q1', 'store-q2'],
  );
  const all = await outpost(['query', '--limit', '1', '--all', '-l', 'region=north', '-o', 'json']);
  assert.equal(JSON.parse(all.stdout).sites.length, 2, 'follows the cursor to the last page');
  const bad = await outpost(['query', '--revision', '2']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /name a bundle .* \(query_invalid\)$/m);
});

test('attention says when nothing needs attention; events lists what happened', async () => {
  const attention = await outpost(['attention']);
  assert.equal(attention.code, 0, attention.stderr);
  assert.match(attention.stdout, /^no site needs attention$/m);
  const events = await outpost(['events', '--site', 'store-q1']);
  assert.equal(events.code, 0, events.stderr);
  assert.match(events.stdout, /#\d+\s+registered\s+store-q1\s+store-q1 registered \(Active\)$/m);
});

test('events --watch prints new events as they happen and stops cleanly on Ctrl-C', async () => {
  const child = spawn(process.execPath, [cli, 'events', '--watch', '--limit', '1', '-o', 'json'], {
    env: {
      ...process.env,
      OUTPOST_HUB: fleet.hub.url,
      OUTPOST_TOKEN: fleet.adminToken,
      OUTPOST_CA_FILE: fleet.hub.caFile,
    },
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  const seen = (pattern: RegExp) =>
    new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no ${pattern} in: ${out}`)), 10_000);
      const check = () => {
        if (pattern.test(out)) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          done();
        }
      };
      child.stdout.on('data', (c: string) => {
        out += c;
        check();
      });
      check();
    });
  await seen(/"type":"registered"/);
  await registerSite('store-watched', {});
  await seen(/"site":"store-watched"/);
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  child.kill('SIGINT');
  assert.equal(await exited, 0);
});

test('profile apply, list and show print revisions and conformance, and status counts them', async () => {
  const file = join(dir, 'profile.yaml');
  await writeFile(
    file,
    'apiVersion: outpost.dev/v1\nkind: Profile\nmetadata: {name: cli-stores}\nspec:\n  placement: {selector: {matchLabels: {cli-profile: "yes"}}}\n  kubernetes: {distribution: k3s, version: v1.31.4+k3s1}\n',
  );
  const applied = await outpost(['profile', 'apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /^profile cli-stores revision 1 stored$/m);
  const list = await outpost(['profile', 'list', '-o', 'json']);
  assert.equal(JSON.parse(list.stdout).find((p: { name: string }) => p.name === 'cli-stores').revision, 1);
  const show = await outpost(['profile', 'show', 'cli-stores']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /cli-stores\s+1\s+-\s+0\s+0\s+0\s+0\s+0/);
  const status = await outpost(['status', '-o', 'json']);
  assert.equal(
    JSON.parse(status.stdout).profiles.find((p: { name: string }) => p.name === 'cli-stores').revision,
    1,
  );
  await writeFile(file, (await readFile(file, 'utf8')).replace('v1.31.4+k3s1', 'v1.33.0+k3s1'));
  const skipped = await outpost(['profile', 'apply', '-f', file]);
  assert.equal(skipped.code, 1);
  assert.match(
    skipped.stderr,
    /profile\.yaml:1: .*skips a Kubernetes minor version: upgrade to 1\.32 first \(bundle_invalid\)/,
  );
});

test('profile rollouts lists a new revision’s rollout; profile rollout shows it and refuses a rollback', async () => {
  const file = join(dir, 'rolled-profile.yaml');
  const doc = (version: string) =>
    `apiVersion: outpost.dev/v1\nkind: Profile\nmetadata: {name: cli-rolled}\nspec:\n  placement: {selector: {matchLabels: {cli-rolled: "yes"}}}\n  kubernetes: {distribution: k3s, version: ${version}}\n`;
  await writeFile(file, doc('v1.31.4+k3s1'));
  assert.equal((await outpost(['profile', 'apply', '-f', file])).code, 0);
  await writeFile(file, doc('v1.32.1+k3s1'));
  assert.equal((await outpost(['profile', 'apply', '-f', file])).code, 0);
  const list = await outpost(['profile', 'rollouts', '--profile', 'cli-rolled', '-o', 'json']);
  assert.equal(list.code, 0, list.stderr);
  const [rollout] = JSON.parse(list.stdout) as Array<{
    id: string;
    fromRevision: number;
    toRevision: number;
  }>;
  assert.deepEqual([rollout?.fromRevision, rollout?.toRevision], [1, 2]);
  const show = await outpost(['profile', 'rollout', rollout!.id]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`${rollout!.id}\\s+cli-rolled\\s+1\\s+2`));
  const back = await outpost(['profile', 'rollout', rollout!.id, 'rollback']);
  assert.equal(back.code, 1);
  assert.match(back.stderr, /does not roll back: Kubernetes cannot go back a minor/);
});

test('outpost agent refuses a host hook that is not an absolute path, from the environment or the flag, before it starts', async () => {
  const stateDir = join(dir, 'agent-hooks');
  const fromEnv = await outpost(['agent', '--state-dir', stateDir, '--no-local-page'], {
    OUTPOST_HOST_HOOKS: '/usr/local/sbin/os-upgrade:os-upgrade',
  });
  assert.notEqual(fromEnv.code, 0);
  assert.match(fromEnv.stderr, /host hook "os-upgrade" is not an absolute path \(OUTPOST_HOST_HOOKS/);
  const fromFlag = await outpost([
    'agent',
    '--state-dir',
    stateDir,
    '--no-local-page',
    '--host-hook',
    './up.sh',
  ]);
  assert.notEqual(fromFlag.code, 0);
  assert.match(fromFlag.stderr, /host hook "\.\/up\.sh" is not an absolute path/);
  await assert.rejects(stat(stateDir), 'no state directory: nothing was started');
});

test('the hub takes its PostgreSQL pool size from OUTPOST_DB_POOL_SIZE, refusing one that is not positive', async () => {
  // a server that is not there: a hub that ignored the variable would stop there, not hang
  const r = await outpost(
    ['hub', '--data-dir', join(dir, 'pool-size-hub'), '--database', 'postgres://127.0.0.1:1/none'],
    { OUTPOST_DB_POOL_SIZE: '0' },
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--db-pool-size takes a positive number, got "0"/);
});
