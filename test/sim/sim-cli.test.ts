// `outpost sim` as a process: a fleet spread over two simulator processes against a real hub, with a
// release that fails on a seeded share of the stores and a region partition, ends with one combined JSON
// summary; the same seed run twice (against two hubs) gives the same summary.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { FleetSummary } from '../../src/sim/fleet.ts';
import { runOutpost } from '../support/cli.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';

const hubs: TestHub[] = [];
after(async () => {
  for (const h of hubs) await h.stop();
});

const till = (image: string) => [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'till' } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'till', namespace: 'till' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'till' } },
      template: { metadata: { labels: { app: 'till' } }, spec: { containers: [{ name: 'till', image }] } },
    },
  },
];

async function simulate(seed: number): Promise<FleetSummary> {
  const hub = await startTestHub();
  hubs.push(hub);
  await hub.api.applyBundle(
    bundleFile('till', { matchExpressions: [{ key: 'region', operator: 'Exists' }] }, till('till:2.0')),
  );
  const r = await runOutpost(hub, [
    'sim',
    '--join-token',
    hub.joinToken,
    '--sites',
    '12',
    '--seed',
    String(seed),
    '--regions',
    'west,east',
    '--processes',
    '2',
    '--image-failure',
    'till:2.0=0.5',
    '--failure-rate',
    '0.05',
    '--apply-latency-ms',
    '5',
    '--ready-after-ms',
    '500',
    '--progress-deadline-ms',
    '2000',
    '--heartbeat',
    '2',
    '--partition',
    'east@4+3',
    '--duration',
    '20',
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as FleetSummary;
}

test('two processes, one summary; a seeded share of the stores fails the release; the seed replays it', async () => {
  const [first, second, other] = await Promise.all([simulate(7), simulate(7), simulate(8)]);
  assert.equal(first.sites, 12);
  assert.equal(first.registered, 12);
  assert.equal(first.crashed, 0);
  assert.deepEqual(first.sitesByRegion, { east: 6, west: 6 });
  const { Failed = 0, Ready = 0 } = first.deployments;
  assert.equal(Failed + Ready, 12, JSON.stringify(first.deployments));
  assert.ok(Failed >= 2 && Failed <= 10, `about half the stores fail till:2.0 (${Failed})`);
  assert.deepEqual(
    { cuts: first.partitions.cuts, sites: first.partitions.sites },
    { cuts: 2, sites: 6 },
    'east was cut off in each process',
  );
  assert.ok(first.failures > 0, 'transient failures happened and were retried');

  // elapsed time, heartbeats made and how fast cut-off stores came back are the clock's, not the seed's
  const replayed = ({ elapsedMs: _e, reports: _r, partitions: _p, ...rest }: FleetSummary) => rest;
  const a = replayed(first);
  const b = replayed(second);
  assert.deepEqual(b, a, 'the same seed gives the same run');
  const c = replayed(other);
  assert.notDeepEqual(c, a, 'another seed another run');
});
