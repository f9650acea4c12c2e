// Agent versions rolled out over a simulated fleet like any bundle: real agents on simulated clusters,
// a real hub with its rollout controller, releases signed with the release key and checked by every
// site. A release the canary cannot run stops the rollout there; no other site ever gets it. A good one
// then reaches the fleet wave by wave.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { agentBundleName, agentReleaseObject, releaseStatement } from '../../src/model/agent-release.ts';
import type { AgentReleaseView, EventView } from '../../src/model/wire.ts';
import { generateReleaseKey, signRelease } from '../../src/pki/release-key.ts';
import { type FleetSummary, runFleet } from '../../src/sim/fleet.ts';
import { eventually } from '../support/eventually.ts';
import { startTestHub, type TestHub } from '../support/fleet.ts';

const sites = 12;
const key = generateReleaseKey();
let fleet: TestHub;
let stateDir: string;
const stop = new AbortController();
let running: Promise<FleetSummary>;

before(async () => {
  fleet = await startTestHub({ releases: { publicKey: key.publicKey }, rollouts: { tickIntervalMs: 200 } });
  stateDir = await mkdtemp(join(tmpdir(), 'outpost-sim-upgrade-'));
  running = runFleet(
    {
      joinToken: fleet.joinToken,
      sites,
      seed: 11,
      stateDir,
      behaviour: { applyLatencyMs: 1, readyAfterMs: 100, progressDeadlineMs: 5000, transientFailureRate: 0 },
      agent: { pollWaitSeconds: 2, heartbeatMs: 1000, readinessResyncMs: 200, driftCheckMs: 10_000 },
      agentVersions: { running: '1.0.0', bad: ['2.0.0'] },
    },
    stop.signal,
  );
});

after(async () => {
  stop.abort();
  await running;
  await fleet.stop();
  await rm(stateDir, { recursive: true, force: true });
});

/** A release of random bytes, signed and pushed as an operator would. */
async function push(version: string): Promise<AgentReleaseView> {
  const bytes = randomBytes(256 * 1024);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const signature = signRelease(key.privateKeyPem, releaseStatement({ version, digest, size: bytes.length }));
  return fleet.api.pushAgentRelease(version, { digest, signature }, bytes);
}

/** The agent bundle for one release, with a rollout strategy or none. */
function agentBundle(release: AgentReleaseView, rollout?: unknown) {
  const bundle = {
    apiVersion: 'outpost.dev/v1',
    kind: 'Bundle',
    metadata: { name: agentBundleName },
    spec: { placement: { selector: {} }, ...(rollout ? { rollout } : {}) },
  };
  const object = agentReleaseObject({ ...release, deadlineSeconds: 30 });
  return {
    files: [{ path: 'outpost-agent.yaml', content: `${stringify(bundle)}---\n${stringify(object)}` }],
  };
}

/** Each site's agent deployment: revision and state. */
async function agentDeployments() {
  const out: Array<{ site: string; revision: number | null; state: string; message: string }> = [];
  for (const s of await fleet.api.sites()) {
    const d = (await fleet.api.site(s.name)).deployments.find((x) => x.bundle === agentBundleName);
    if (d) out.push({ site: s.name, revision: d.desiredRevision, state: d.state, message: d.message });
  }
  return out;
}

test('a bad agent release fails its canary and goes no further; a good one reaches the fleet in waves', {
  timeout: 300_000,
}, async () => {
  await eventually('every site to register', async () => (await fleet.api.sites()).length === sites, {
    timeoutMs: 60_000,
  });
  const [v1, bad, good] = [await push('1.0.0'), await push('2.0.0'), await push('2.0.1')];

  // What the fleet runs, on record: every site already runs it.
  await fleet.api.applyBundle(agentBundle(v1));
  await eventually(
    'every site to report agent 1.0.0',
    async () => {
      const all = await agentDeployments();
      return (
        all.length === sites && all.every((d) => d.state === 'Ready' && d.message === 'agent 1.0.0 running')
      );
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );

  const strategy = {
    waves: [
      { name: 'canary', count: 1 },
      { name: 'half', percent: 50 },
      { name: 'rest', percent: 100 },
    ],
    maxConcurrent: '100%',
    maxFailures: 0,
    onFailure: 'rollback',
    bakeSeconds: 1,
  };
  const failing = await fleet.api.applyBundle(agentBundle(bad, strategy));
  assert.ok(failing.rollout, 'a new agent version starts a rollout');
  const stopped = await eventually(
    'the rollout of 2.0.0 to stop at its canary',
    async () => {
      const r = await fleet.api.rollout(failing.rollout!);
      return ['RollingBack', 'Failed'].includes(r.phase) ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 300 },
  );
  const reverted = await fleet.api.events({ type: 'agent_upgrade_reverted' });
  assert.equal(reverted.items.length, 1, 'the canary alone tried 2.0.0');
  const canary = (reverted.items[0] as EventView).site!;
  assert.match(
    (reverted.items[0] as EventView).message,
    /agent upgrade to 2.0.0 reverted: not ready within 30s; running 1.0.0/,
  );
  await eventually(
    'the rollout to have sent the canary back, and every site to run 1.0.0',
    async () => {
      const r = await fleet.api.rollout(failing.rollout!);
      const all = await agentDeployments();
      return (
        r.phase === 'Failed' &&
        all.every((d) => d.revision === 1 && d.state === 'Ready' && d.message === 'agent 1.0.0 running')
      );
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  assert.equal(stopped.bundle, agentBundleName);
  const tried = (await fleet.api.events({ type: 'failed' })).items.filter(
    (e: EventView) => e.bundle === agentBundleName,
  );
  assert.deepEqual(
    tried.map((e: EventView) => e.site),
    [canary],
    'no site beyond the canary ever got the bad release',
  );

  // A good release goes through every wave to every site.
  const passing = await fleet.api.applyBundle(agentBundle(good, strategy));
  const done = await eventually(
    'the rollout of 2.0.1 to succeed',
    async () => {
      const r = await fleet.api.rollout(passing.rollout!);
      return r.phase === 'Succeeded' ? r : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  assert.deepEqual(
    done.waves.map((w) => w.name),
    ['canary', 'half', 'rest'],
  );
  await eventually(
    'every site to run agent 2.0.1',
    async () => {
      const all = await agentDeployments();
      return all.every((d) => d.revision === 3 && d.state === 'Ready' && d.message === 'agent 2.0.1 running');
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
});
