// Chaos: a tenth of a simulated fleet (one region of ten) loses its link to a real hub process for 24
// simulated hours, on a clock that runs fast (src/sim/fleet.ts timeScale). Checked: nothing undeployed at
// the sites or at the hub, every report made reaches the hub or is counted as dropped (and the hub shows
// the agents' count), every cut-off site back within one heartbeat of its link returning. Sites and
// speed: OUTPOST_CHAOS_PARTITION_SITES (default 10,000) and OUTPOST_CHAOS_TIME_SCALE (default 240: 24
// hours in six minutes).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import type { QueryGroup } from '../../src/model/wire.ts';
import { type FleetSummary, runFleet } from '../../src/sim/fleet.ts';
import { bundleFile } from '../support/fleet.ts';
import { type KillableHub, recordChaos, startKillableHub } from './support.ts';

const sites = Number(process.env.OUTPOST_CHAOS_PARTITION_SITES ?? 10_000);
const timeScale = Number(process.env.OUTPOST_CHAOS_TIME_SCALE ?? 240);
/** OUTPOST_CHAOS_PARTITION_HOURS shortens the cut for a quick look; the figure is 24 */
const hours = Number(process.env.OUTPOST_CHAOS_PARTITION_HOURS ?? 24);
const heartbeatMs = 30_000;
/** the hub's defaults, in simulated time */
const staleAfterSeconds = 90;
const offlineAfterSeconds = 600;
const regions = Array.from({ length: 10 }, (_, i) => `region-${i}`);
const cutRegion = regions[0]!;
const bundle = 'partition-pos';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

const realMs = (simulatedMs: number) => simulatedMs / timeScale;

/** The placed bundle's sites at the hub, by connectivity and deployment state. */
async function hubView(hub: KillableHub): Promise<{ offline: number; ready: number; placed: number }> {
  const r = await hub.operator.request('POST', '/api/v1/query', {
    body: { bundle, groupBy: ['connectivity', 'state'], limit: 1000 },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const groups = (r.body as { groups: QueryGroup[] }).groups;
  const count = (p: (g: QueryGroup) => boolean) => groups.filter(p).reduce((n, g) => n + g.count, 0);
  return {
    offline: count((g) => g.key.connectivity === 'Offline'),
    ready: count((g) => g.key.state === 'Ready'),
    placed: count((g) => g.key.state !== null),
  };
}

test(`${sites} simulated sites, a tenth cut off for ${hours} simulated hours: nothing undeployed, no report lost, each back within a heartbeat`, {
  timeout: 30 * 60_000,
}, async () => {
  const hub = await startKillableHub(undefined, {
    args: [
      '--stale-after',
      String(staleAfterSeconds / timeScale),
      '--offline-after',
      String(offlineAfterSeconds / timeScale),
    ],
  });
  cleanup.push(() => hub.stop());
  const stateDir = await mkdtemp(join(tmpdir(), 'outpost-chaos-partition-'));
  cleanup.push(() => rm(stateDir, { recursive: true, force: true }));

  const token = await hub.operator.request('POST', '/api/v1/bootstrap-tokens', {
    body: { autoApprove: true, maxUses: sites },
  });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  const applied = await hub.operator.request('POST', '/api/v1/bundles/apply', {
    body: bundleFile(bundle, {}, [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'till', namespace: 'default' },
        data: { v: '1' },
      },
    ]),
  });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));

  // the fleet registers and settles on real time before the cut: about 5 ms a site on this machine
  const settleRealMs = Math.max(20_000, sites * 5);
  const cutAt = settleRealMs * timeScale;
  const cutFor = hours * 3600_000;
  const ac = new AbortController();
  let latest: FleetSummary | undefined;
  const running = runFleet(
    {
      joinToken: (token.body as { joinToken: string }).joinToken,
      sites,
      seed: 20,
      regions,
      stateDir,
      timeScale,
      behaviour: { applyLatencyMs: 0, readyAfterMs: 0, progressDeadlineMs: 60_000, transientFailureRate: 0 },
      partitions: [{ region: cutRegion, atMs: cutAt, forMs: cutFor }],
      agent: { heartbeatMs, pollWaitSeconds: 30, readinessResyncMs: 3000, driftCheckMs: 300_000 },
      onProgress: (s) => {
        latest = s;
      },
      progressEveryMs: 250,
    },
    ac.signal,
  );
  cleanup.push(async () => {
    ac.abort();
    await running.catch(() => {});
  });
  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  while (elapsed() < settleRealMs - 500) await sleep(250);
  const beforeCut = latest!;
  const readyBeforeCut = beforeCut.deployments.Ready ?? 0;
  const hubBeforeCut = await hubView(hub);

  // during the cut: what the sites and the hub say, sampled
  let minReadyAtSites = Number.POSITIVE_INFINITY;
  let mostPending = 0;
  let mostOffline = 0;
  let fewestPlacedAtHub = Number.POSITIVE_INFINITY;
  while (elapsed() < settleRealMs + realMs(cutFor)) {
    await sleep(500);
    const s = latest!;
    minReadyAtSites = Math.min(minReadyAtSites, s.deployments.Ready ?? 0);
    mostPending = Math.max(mostPending, s.reports.pending);
    const view = await hubView(hub);
    mostOffline = Math.max(mostOffline, view.offline);
    fewestPlacedAtHub = Math.min(fewestPlacedAtHub, view.placed);
  }
  // the link is back: wait until every cut-off site has reached the hub, then two heartbeats more
  const healed = performance.now();
  while ((latest?.partitions.back ?? 0) < (latest?.partitions.sites ?? 1)) {
    if (performance.now() - healed > 120_000) break;
    await sleep(250);
  }
  await sleep(realMs(2 * heartbeatMs) + 2000);
  ac.abort();
  const end = await running;
  const hubAfter = await hubView(hub);
  await hub.stop();
  const db = new DatabaseSync(join(hub.dataDir, 'hub.db'), { readOnly: true });
  const { seqs, droppedAtHub } = db
    .prepare('SELECT SUM(last_report_seq) AS seqs, SUM(dropped_reports) AS droppedAtHub FROM sites')
    .get() as { seqs: number; droppedAtHub: number };
  db.close();

  const cutSites = end.partitions.sites;
  const lost = end.reports.made - end.reports.dropped - end.reports.pending - seqs;
  await recordChaos({
    scenario: 'partition',
    checked: `${sites} simulated sites (real agents, simulated clusters) on a real hub process; ${cutSites} of them (one region of ten) cut off for ${hours} simulated hours on a clock running ${timeScale}× fast (${Math.round(realMs(cutFor) / 1000)} s real; heartbeat ${heartbeatMs / 1000} s, hub stale after ${staleAfterSeconds} s and offline after ${offlineAfterSeconds} s, all simulated). Checked: the bundle stays Ready at every site and placed at the hub throughout, no object deleted, every report the agents made acknowledged by the hub (the sum of the hub's last sequence numbers), still waiting in an outbox on disk at the stop (a heartbeat in flight; sent again at the next start) or counted as dropped, the hub's total of dropped reports equal to the agents' own count, and each cut-off site back at the hub within one heartbeat of its link returning`,
    figures: [
      { name: 'sites', value: sites, unit: 'sites' },
      { name: 'sites-cut-off', value: cutSites, unit: 'sites', op: '>=', target: sites / 10 },
      { name: 'simulated-hours', value: hours, unit: 'h' },
      { name: 'time-scale', value: timeScale, unit: '×' },
      { name: 'ready-before-cut', value: readyBeforeCut, unit: 'sites', op: '>=', target: sites },
      { name: 'offline-at-hub-during-cut', value: mostOffline, unit: 'sites', op: '>=', target: cutSites },
      {
        name: 'undeployed-at-sites',
        value: sites - Math.min(minReadyAtSites, end.deployments.Ready ?? 0),
        unit: 'sites',
        op: '<=',
        target: 0,
      },
      { name: 'objects-deleted', value: end.deletes, unit: 'objects', op: '<=', target: 0 },
      {
        name: 'undeployed-at-hub',
        value: hubBeforeCut.placed - Math.min(fewestPlacedAtHub, hubAfter.placed),
        unit: 'sites',
        op: '<=',
        target: 0,
      },
      { name: 'reports-made', value: end.reports.made, unit: 'reports' },
      { name: 'most-reports-waiting', value: mostPending, unit: 'reports' },
      { name: 'reports-dropped-counted', value: end.reports.dropped, unit: 'reports' },
      {
        name: 'dropped-reports-the-hub-does-not-show',
        value: end.reports.dropped - droppedAtHub,
        unit: 'reports',
        op: '<=',
        target: 0,
      },
      { name: 'reports-lost', value: lost, unit: 'reports', op: '<=', target: 0 },
      { name: 'reports-waiting-at-end', value: end.reports.pending, unit: 'reports' },
      { name: 'sites-back', value: end.partitions.back, unit: 'sites', op: '>=', target: cutSites },
      {
        name: 'slowest-back-after-heal',
        value: end.partitions.backAfterMs,
        unit: 'simulated ms',
        op: '<=',
        target: heartbeatMs,
      },
      { name: 'agents-crashed', value: end.crashed, unit: 'agents', op: '<=', target: 0 },
    ],
  });
  assert.equal(end.registered, sites, 'every site registered');
  assert.equal(end.crashed, 0);
  assert.equal(
    readyBeforeCut,
    sites,
    `the fleet settled before the cut (deployments by state at the sites: ${JSON.stringify(beforeCut.deployments)})`,
  );
  assert.equal(cutSites, sites / 10);
  assert.ok(mostOffline >= cutSites, `the hub called the cut-off sites Offline (${mostOffline})`);
  assert.equal(minReadyAtSites, sites, 'no site stopped running the bundle during the cut');
  assert.equal(end.deletes, 0);
  assert.equal(
    Math.min(fewestPlacedAtHub, hubAfter.placed),
    hubBeforeCut.placed,
    'the hub undeployed nothing',
  );
  assert.equal(hubAfter.ready, sites, 'the hub sees every site Ready again');
  assert.equal(lost, 0, 'every report made was acknowledged or counted as dropped');
  assert.equal(droppedAtHub, end.reports.dropped, "the hub shows the agents' own count of dropped reports");
  assert.equal(end.partitions.back, cutSites, 'every cut-off site came back');
  assert.ok(
    end.partitions.backAfterMs <= heartbeatMs,
    `back within a heartbeat (${end.partitions.backAfterMs} ms)`,
  );
});
