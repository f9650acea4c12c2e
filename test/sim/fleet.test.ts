// The fleet simulator end to end: real agents on simulated clusters against a real hub. The simulator
// proves that the pieces hold together at fleet scale and replays with a seed; it is never used as a
// stand-in for Kubernetes in the functional tests, because an in-memory API server only agrees with a
// real one where we thought to make it agree — the agent's behaviour is pinned against kube-apiserver.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type FleetOptions, type FleetSummary, planFleet, runFleet } from '../../src/sim/fleet.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'till' } };
const configMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'prices', namespace: 'till' },
  data: { currency: 'EUR' },
};
const deployment = (image: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'till', namespace: 'till' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'till' } },
    template: {
      metadata: { labels: { app: 'till' } },
      spec: { containers: [{ name: 'till', image }] },
    },
  },
});
const everywhere = { matchExpressions: [{ key: 'region', operator: 'Exists' }] };

const behaviour: FleetOptions['behaviour'] = {
  applyLatencyMs: 5,
  readyAfterMs: 500,
  progressDeadlineMs: 1500,
  badImage: (image) => image.endsWith(':broken'),
  transientFailureRate: 0.05,
};
const pace = { pollWaitSeconds: 5, heartbeatMs: 2000, readinessResyncMs: 200, driftCheckMs: 5000 };

/** A hub and a running fleet on it; `stop` ends the fleet and returns its summary. */
async function fleetOn(sites: number, seed: number, extra: Partial<FleetOptions> = {}) {
  const hub = await startTestHub();
  const stateDir = await mkdtemp(join(tmpdir(), 'outpost-sim-'));
  const ac = new AbortController();
  const running = runFleet(
    { joinToken: hub.joinToken, sites, seed, stateDir, behaviour, agent: pace, ...extra },
    ac.signal,
  );
  let stopped: Promise<FleetSummary> | undefined;
  const stop = () => {
    ac.abort();
    stopped ??= running;
    return stopped;
  };
  cleanups.push(async () => {
    await stop();
    await hub.stop();
    await rm(stateDir, { recursive: true, force: true });
  });
  return { hub, stop };
}

async function bundleStates(hub: TestHub, bundle: string): Promise<Record<string, number>> {
  return (await hub.api.status()).bundles.find((b) => b.name === bundle)?.byState ?? {};
}

test('twenty simulated stores register, apply a bundle and report Ready; a bad image fails where placed', async () => {
  const sites = 20;
  const { hub, stop } = await fleetOn(sites, 42, {
    regions: ['us-east', 'eu-central'],
    flaps: { share: 0.3, groups: 2, everyMs: 1500, downMs: 400 },
  });
  await eventually(
    'every store to register',
    async () => (await hub.api.sites()).filter((s) => s.lifecycle === 'Active').length === sites,
    { timeoutMs: 60_000 },
  );
  const registered = await hub.api.sites();
  assert.deepEqual(
    registered.map((s) => s.name).sort(),
    planFleet(sites, 42, ['us-east', 'eu-central']).map((s) => s.name),
  );
  await eventually(
    'each store to report its nodes, a k3s server first among them',
    async () => {
      const stack = (await hub.api.siteStack('store-0001')).stack;
      return stack?.nodes.some((n) => n.name === 'store-0001-server' && n.controlPlane) === true;
    },
    { timeoutMs: 30_000 },
  );
  assert.equal((await hub.api.siteStack('store-0001')).stack?.kubernetesVersion, 'v1.31.4+k3s1');

  await hub.api.applyBundle(bundleFile('till', everywhere, [namespace, configMap, deployment('till:1.0')]));
  await eventually(
    'the till bundle to be Ready on every store',
    async () => (await bundleStates(hub, 'till')).Ready === sites,
    { timeoutMs: 60_000 },
  );

  // a revision with an image that never starts, placed on one region only
  await hub.api.applyBundle(
    bundleFile('scanner', { matchLabels: { region: 'eu-central' } }, [
      { ...deployment('scanner:broken'), metadata: { name: 'scanner', namespace: 'till' } },
    ]),
  );
  await eventually(
    'the scanner bundle to fail on the eu-central stores',
    async () => (await bundleStates(hub, 'scanner')).Failed === sites / 2,
    { timeoutMs: 60_000 },
  );
  const store = (await hub.api.sites()).find((s) => s.labels.region === 'eu-central')!;
  const failed = (await hub.api.site(store.name)).deployments.find((d) => d.bundle === 'scanner')!;
  assert.match(failed.message, /Deployment till\/scanner.*ProgressDeadlineExceeded/);
  assert.deepEqual(await bundleStates(hub, 'till'), { Ready: sites }, 'the other bundle is untouched');

  const summary = await stop();
  assert.equal(summary.registered, sites);
  assert.equal(summary.crashed, 0);
  assert.deepEqual(summary.sitesByRegion, { 'us-east': 10, 'eu-central': 10 });
  assert.deepEqual(summary.deployments, { Ready: sites, Failed: sites / 2 });
  assert.ok(summary.applies >= sites * 3 + (sites / 2) * 1, `every object was applied (${summary.applies})`);
  assert.ok(summary.failures > 0, 'some writes failed transiently and were retried');
  assert.equal(summary.flaps.links, 2);
  assert.ok(summary.flaps.sites > 0 && summary.flaps.cuts > 0, JSON.stringify(summary.flaps));
  assert.deepEqual(JSON.parse(JSON.stringify(summary)), summary, 'the summary is plain JSON');
});

test('one seed makes one fleet: the same sites, labels, coordinates and failures', async () => {
  assert.deepEqual(planFleet(50, 7), planFleet(50, 7));
  assert.notDeepEqual(planFleet(50, 7), planFleet(50, 8));
  for (const site of planFleet(50, 7)) {
    assert.ok(Math.abs(site.facts.lat! - 40) < 50 && site.facts.timezone, JSON.stringify(site));
  }

  const run = async () => {
    const { hub, stop } = await fleetOn(6, 7);
    await hub.api.applyBundle(bundleFile('till', everywhere, [namespace, configMap, deployment('till:1.0')]));
    await eventually('the fleet to be Ready', async () => (await bundleStates(hub, 'till')).Ready === 6, {
      timeoutMs: 60_000,
    });
    const { elapsedMs, ...summary } = await stop();
    assert.ok(elapsedMs > 0);
    return summary;
  };
  const [first, second] = await Promise.all([run(), run()]);
  assert.deepEqual(second, first);
  assert.ok(first.failures > 0, 'the replay includes the transient failures the seed decided');
});
