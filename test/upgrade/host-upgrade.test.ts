// Agent self-upgrade on a host install, end to end with real processes: the launcher of an unpacked
// release 0.1.0 (both releases built from this tree by scripts/build-release.sh), a hub, the fixture
// kube-apiserver. The fleet moves to 0.2.0 through `outpost agent upgrade`; a 0.3.0 that never becomes
// ready is reverted by the launcher and reported; releases with a signature by another key or with bytes
// that are not the ones signed (what a stolen hub database could serve) are refused before they run.
// Throughout, the workload the site runs is never touched.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { agentBundleName, agentReleaseObject, releaseStatement } from '../../src/model/agent-release.ts';
import type { DeploymentView, EventView } from '../../src/model/wire.ts';
import { generateReleaseKey, signRelease } from '../../src/pki/release-key.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { type BuiltRelease, builtRelease, derivedRelease } from '../support/releases.ts';

const exec = promisify(execFile);
const cli = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const key = generateReleaseKey();
let kube: KubeFixture;
let fleet: TestHub;
let work: string;
let v1: BuiltRelease;
let v2: BuiltRelease;
let launcher: ChildProcess | undefined;
let passed = false;
const stateDir = () => join(work, 'state');
const ns = 'upgrade-shop';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'outpost-host-upgrade-'));
  [kube, v1, v2] = await Promise.all([startKube(), builtRelease('0.1.0'), builtRelease('0.2.0')]);
  await writeFile(join(work, 'release.key'), key.privateKeyPem, { mode: 0o600 });
  fleet = await startTestHub({ releases: { publicKey: key.publicKey }, rollouts: { tickIntervalMs: 500 } });
});

after(async () => {
  if (!passed) {
    const log = await readFile(join(work, 'launcher.log'), 'utf8').catch(() => '');
    process.stderr.write(
      `--- launcher and agent log (last 120 lines) ---\n${log.split('\n').slice(-120).join('\n')}\n`,
    );
  }
  launcher?.kill('SIGTERM');
  if (launcher && launcher.exitCode === null) await new Promise((r) => launcher!.once('exit', r));
  await fleet?.stop();
  await kube?.stop();
  await rm(work, { recursive: true, force: true });
});

/** The `outpost` command from source, as the fleet's admin. */
async function outpost(...args: string[]): Promise<string> {
  const caFile = join(work, 'hub-ca.crt');
  await writeFile(caFile, fleet.hub.caPem);
  const { stdout } = await exec(process.execPath, [cli, ...args], {
    env: {
      ...process.env,
      OUTPOST_HUB: fleet.hub.url,
      OUTPOST_TOKEN: fleet.adminToken,
      OUTPOST_CA_FILE: caFile,
    },
  });
  return stdout;
}

async function agentDeployment(): Promise<DeploymentView | undefined> {
  const site = await fleet.api.site('store-1').catch(() => undefined);
  return site?.deployments.find((d) => d.bundle === agentBundleName);
}

/** The pid of the agent process (node) the launcher runs now. */
async function agentPid(): Promise<number | undefined> {
  const { stdout } = await exec('pgrep', ['-P', String(launcher!.pid), '-f', 'outpost.mjs agent']).catch(
    () => ({
      stdout: '',
    }),
  );
  const pid = Number(stdout.trim().split('\n')[0]);
  return Number.isFinite(pid) && pid > 0 ? pid : undefined;
}

const releasesFile = (name: string) =>
  readFile(join(stateDir(), 'releases', name), 'utf8').then((t) => t.trim());

test('a host agent upgrades through a rollout, goes back from a release that never gets ready, and runs nothing it cannot verify', {
  timeout: 900_000,
}, async () => {
  // The operator unpacked release 0.1.0 and runs its launcher (what the systemd unit runs).
  const log = openSync(join(work, 'launcher.log'), 'a');
  launcher = spawn(
    join(v1.folder, 'bin', 'outpost-agent'),
    [
      '--state-dir',
      stateDir(),
      '--join-token',
      fleet.joinToken,
      '--name',
      'store-1',
      '--machine-id',
      'machine-store-1',
      '--kubeconfig',
      kube.kubeconfigPath,
      '--local-page',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', log, log] },
  );

  // The site runs a workload; its objects must come through every agent switch untouched.
  const workload = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'till', namespace: ns }, data: { lane: '1' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'till', namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'till' } },
        template: {
          metadata: { labels: { app: 'till' } },
          spec: { containers: [{ name: 'till', image: 'registry.example/till:1.4.3' }] },
        },
      },
    },
  ];
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1, {
    timeoutMs: 60_000,
  });
  await fleet.api.applyBundle(bundleFile('shop', {}, workload, { apply: { readiness: 'Optimistic' } }));
  await eventually(
    'the workload to be Ready',
    async () =>
      (await fleet.api.site('store-1')).deployments.find((d) => d.bundle === 'shop')?.state === 'Ready',
    { timeoutMs: 60_000 },
  );
  const before = (await kube.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/till`)).body;

  // Both releases go to the hub, signed with the release key; the fleet's version goes on record.
  await outpost('agent', 'release', 'push', v1.tarball, '--key', join(work, 'release.key'));
  await outpost('agent', 'release', 'push', v2.tarball, '--key', join(work, 'release.key'));
  const strategy = join(work, 'all-at-once.yaml');
  await writeFile(strategy, 'waves: [{name: all, percent: 100}]\nbakeSeconds: 0\n');
  const pid1 = await eventually('the 0.1.0 agent', agentPid);
  const upgraded = await outpost(
    'agent',
    'upgrade',
    '--version',
    '0.2.0',
    '--from-version',
    '0.1.0',
    '--strategy',
    strategy,
    '--deadline',
    '120',
  );
  assert.match(upgraded, /recorded agent 0.1.0 as what the fleet runs/);
  assert.match(upgraded, /agent 0.2.0: outpost-agent revision 2, 1 site\(s\), rollout /);

  const running2 = await eventually(
    'the site to run agent 0.2.0',
    async () => {
      const d = await agentDeployment();
      return d?.state === 'Ready' && d.message === 'agent 0.2.0 running' ? d : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  assert.equal(running2.desiredRevision, 2);
  const pid2 = await agentPid();
  assert.ok(pid2 && pid2 !== pid1, 'a new agent process runs');
  await eventually(
    'the launcher to make 0.2.0 the release in use',
    async () => (await releasesFile('current').catch(() => '')) === '0.2.0',
  );
  const site = await fleet.api.site('store-1');
  assert.equal(site.deployments.find((d) => d.bundle === 'shop')?.state, 'Ready');

  // 0.3.0 starts but never becomes ready: the launcher goes back to 0.2.0 by itself and the site says why.
  const bad = await derivedRelease(v2, '0.3.0', 'setInterval(() => {}, 60_000);\n', work);
  await outpost('agent', 'release', 'push', bad.tarball, '--key', join(work, 'release.key'));
  await outpost('agent', 'upgrade', '--version', '0.3.0', '--strategy', strategy, '--deadline', '15');
  const reverted = await eventually(
    'the site to report the upgrade to 0.3.0 reverted',
    async () => {
      const d = await agentDeployment();
      return d?.state === 'Failed' && d.desiredRevision === 3 ? d : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  assert.equal(reverted.message, 'agent upgrade to 0.3.0 reverted: not ready within 15s; running 0.2.0');
  assert.equal(await releasesFile('current'), '0.2.0');
  const events = await fleet.api.events({ type: 'agent_upgrade_reverted' });
  assert.deepEqual(
    events.items.map((e: EventView) => [e.site, e.bundle]),
    [['store-1', agentBundleName]],
  );
  const pid3 = await eventually('the 0.2.0 agent again', agentPid);

  // What a stolen hub database could serve: a release signed by another key, and a release signed with
  // the right key whose stored bytes were swapped. Written straight into the store, past the hub's checks.
  const db = fleet.hub.ctx.store.db;
  const plant = async (version: string, signedBytes: Buffer, storedBytes: Buffer, signingKey: string) => {
    const digest = `sha256:${createHash('sha256').update(signedBytes).digest('hex')}`;
    const signature = signRelease(
      signingKey,
      releaseStatement({ version, digest, size: signedBytes.length }),
    );
    await db
      .insertInto('agent_releases')
      .values({
        version,
        digest,
        size: signedBytes.length,
        image: null,
        signature,
        created_at: new Date().toISOString(),
        created_by: 'intruder',
      })
      .execute();
    await db.insertInto('agent_release_chunks').values({ digest, seq: 0, data: storedBytes }).execute();
    const object = agentReleaseObject({
      version,
      digest,
      size: signedBytes.length,
      signature,
      deadlineSeconds: 60,
    });
    await fleet.api.applyBundle(bundleFile(agentBundleName, {}, [object]));
  };
  // any bytes will do: neither release gets as far as being unpacked
  const forgedBytes = randomBytes(64 * 1024);
  await plant('0.4.0', forgedBytes, forgedBytes, generateReleaseKey().privateKeyPem);
  const forged = await eventually(
    'the forged release to be refused',
    async () => {
      const d = await agentDeployment();
      return d?.state === 'Failed' && d.message.includes('0.4.0') ? d : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  assert.equal(
    forged.message,
    'agent release 0.4.0 refused: its signature does not verify with the release key this site pinned when it joined',
  );
  await plant('0.5.0', randomBytes(64 * 1024), randomBytes(64 * 1024), key.privateKeyPem);
  const swapped = await eventually(
    'the swapped release to be refused',
    async () => {
      const d = await agentDeployment();
      return d?.state === 'Failed' && d.message.includes('0.5.0') ? d : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  assert.match(swapped.message, /agent release 0.5.0: the download of 0.5.0 does not match what was signed/);

  // Nothing of either ran or stayed on disk, the same agent process still runs, and the workload is as it was.
  assert.equal(await agentPid(), pid3);
  const kept = (await readdir(join(stateDir(), 'releases')))
    .filter((f) => !/^[a-z]+(\.json)?$/.test(f))
    .sort();
  assert.deepEqual(kept, ['0.2.0', '0.3.0'], 'only releases that were checked were ever unpacked');
  const afterAll = (await kube.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/till`)).body;
  assert.equal(afterAll.metadata.uid, before.metadata.uid);
  assert.equal(
    afterAll.metadata.resourceVersion,
    before.metadata.resourceVersion,
    'no agent switch touched it',
  );
  assert.equal(afterAll.metadata.generation, before.metadata.generation);
  passed = true;
});
