// Chaos: clocks that disagree by ten minutes. A relay ten minutes behind the hub, one site ten minutes
// behind and one ten minutes ahead (real processes, their clocks moved by libfaketime), against a real
// hub and kube-apiserver: each registers, takes its sites' mTLS through the relay, applies and reports,
// and the hub, judging staleness by its own clock, never calls one stale.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type AgentProcess, startAgentProcess } from '../support/agent-process.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { freePort, type RelayProcess, startRelayProcess } from '../support/relay-process.ts';
import { recordChaos } from './support.ts';

const libfaketime = process.env.OUTPOST_FAKETIME;
const skip = libfaketime
  ? false
  : 'libfaketime not found: OUTPOST_FAKETIME=$(bash scripts/debian-tool-fixture.sh faketime)';
const skewMinutes = 10;

/** The environment that moves a process's wall clock by `minutes` (timers keep the real monotonic clock). */
function skewed(minutes: number): Record<string, string> {
  return {
    LD_PRELOAD: libfaketime!,
    FAKETIME: `${minutes > 0 ? '+' : ''}${minutes}m`,
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  };
}

let kube: KubeFixture;
let fleet: TestHub;
let dir: string;
let relay: RelayProcess | undefined;
const agents: AgentProcess[] = [];

before(async () => {
  if (skip) return;
  // a site's cluster certificates were issued long before its agent runs, on the site's own clock
  kube = await startKube({ pkiEnv: skewed(-60) });
  fleet = await startTestHub();
  dir = await mkdtemp(join(tmpdir(), 'outpost-clock-skew-'));
});

after(async () => {
  for (const a of agents) await a.stop();
  await relay?.stop();
  await fleet?.stop();
  await kube?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test(`±${skewMinutes} minutes between hub, relay and sites: registration, mTLS through the relay, apply, reports, no false staleness`, {
  skip,
  timeout: 420_000,
}, async () => {
  // the moved clocks are real: a process started the same way reads a time ten minutes off
  const { stdout } = await promisify(execFile)(process.execPath, ['-p', 'Date.now()'], {
    env: { ...process.env, ...skewed(-skewMinutes) },
  });
  const measuredSkewS = (Number(stdout) - Date.now()) / 1000;
  assert.ok(Math.abs(measuredSkewS + skewMinutes * 60) < 30, `skew measured ${measuredSkewS} s`);

  const created = await fleet.api.createRelay({
    name: 'west',
    selector: { matchLabels: { region: 'west' } },
  });
  relay = await startRelayProcess({
    stateDir: join(dir, 'relay'),
    port: await freePort(),
    joinToken: created.joinToken,
    caPem: fleet.hub.caPem,
    env: skewed(-skewMinutes),
  });
  const { joinToken } = await fleet.api.createBootstrapToken({
    autoApprove: true,
    maxUses: 10,
    labels: { region: 'west' },
    relays: [relay.url],
  });
  const sites = { 'store-behind': -skewMinutes, 'store-ahead': skewMinutes };
  for (const [name, minutes] of Object.entries(sites)) {
    agents.push(startAgentProcess(fleet, kube, dir, name, [], { joinToken, env: skewed(minutes) }));
  }
  const logs = () => [relay!.log(), ...agents.map((a) => a.log())].join('\n');
  await eventually(
    'both sites to register',
    async () => (await fleet.api.sites()).filter((s) => s.lifecycle === 'Active').length === 2,
    { timeoutMs: 60_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs()}`);
  });

  await fleet.api.applyBundle(
    bundleFile('menu', { matchLabels: { region: 'west' } }, [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'menu', namespace: 'default' },
        data: { v: '1' },
      },
    ]),
  );
  const ready = async () => {
    let n = 0;
    for (const name of Object.keys(sites)) {
      const d = (await fleet.api.site(name)).deployments.find((x) => x.bundle === 'menu');
      if (d?.state === 'Ready') n++;
    }
    return n;
  };
  await eventually('menu Ready at both sites', async () => (await ready()) === 2, {
    timeoutMs: 90_000,
  }).catch(async (e: Error) => {
    const states = await Promise.all(Object.keys(sites).map((n) => fleet.api.site(n)));
    throw new Error(
      `${e.message}\n${JSON.stringify(states.map((s) => [s.name, s.connectivity, s.deployments]))}\n${logs()}`,
    );
  });

  // each site's long-polls and reports go through the relay: its certificate is valid on the relay's
  // clock and the relay's on the site's, with ten minutes between them either way. A site that tried the
  // relay before the relay's change feed brought it in fell back to the hub, and tries the relay again a
  // minute later (the agent's relay retry): the wait allows two such retries.
  const routed = await eventually(
    'both sites to come through the relay',
    async () => {
      const detail = await fleet.api.relay('west');
      return detail.siteNames.length === 2 ? detail.siteNames : undefined;
    },
    { timeoutMs: 150_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs()}`);
  });
  assert.deepEqual([...routed].sort(), Object.keys(sites).sort());

  const registered = (await fleet.api.sites()).filter((s) => s.lifecycle === 'Active').length;
  const stale = await fleet.api.events({ type: 'became_stale', limit: 100 });
  const online = (await fleet.api.sites()).filter((s) => s.connectivity === 'Online').length;
  assert.equal(stale.items.length, 0, 'a skewed clock never makes a heard-from site stale');
  assert.equal(online, 2);

  await recordChaos({
    scenario: 'clock-skew',
    checked: `a relay ${skewMinutes} min behind the hub, one site ${skewMinutes} min behind and one ${skewMinutes} min ahead (libfaketime; measured ${measuredSkewS.toFixed(0)} s): both register, both come through the relay over mTLS, a bundle is Ready at both, neither is ever stale`,
    figures: [
      { name: 'sites-registered', value: registered, unit: 'sites', op: '>=', target: 2 },
      { name: 'sites-via-relay', value: routed.length, unit: 'sites', op: '>=', target: 2 },
      { name: 'sites-ready', value: await ready(), unit: 'sites', op: '>=', target: 2 },
      { name: 'became-stale-events', value: stale.items.length, unit: 'events', op: '<=', target: 0 },
    ],
  });
});
