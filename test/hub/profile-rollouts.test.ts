// A profile revision rolled out over waves on the real store, sites reporting through the agent API: the
// canary, then region by region; a site whose agent reports its Kubernetes layer Behind pauses the rollout
// and is marked with the layer and node, never rolled back; resumed, the rest reach Conformant and the
// rollout succeeds; the conformance kept per site shows in the profile list, attention and /metrics.
// OUTPOST_TEST_ENGINE=postgres runs it on PostgreSQL.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tickProfileRollouts } from '../../src/hub/profiles/profile-rollouts.ts';
import type { ProfileRolloutDetail } from '../../src/model/profile-wire.ts';
import type { LayerUpgrade, NodeInfo } from '../../src/model/site-stack.ts';
import type { DesiredState } from '../../src/model/wire.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
const sites = new Map<string, Site>();
let seq = 0;

const profile = (kubernetes: string) => `apiVersion: outpost.dev/v1
kind: Profile
metadata: {name: stores}
spec:
  placement:
    selector: {matchLabels: {format: store}}
  kubernetes: {distribution: k3s, version: ${kubernetes}}
  upgradeDeadlineSeconds: 600
  rollout: stores-by-region
`;

const node = (name: string, kubeletVersion: string): NodeInfo => ({
  name,
  kubeletVersion,
  containerRuntimeVersion: 'containerd://1.7.23-k3s2',
  osImage: 'Ubuntu 24.04.1 LTS',
  kernelVersion: '6.8.0-49-generic',
  architecture: 'arm64',
  controlPlane: name === 'server',
});

/** A report as the agent sends it: both nodes at the version, and its verdict on the upgrade if any. */
async function report(name: string, version: string, upgrade?: LayerUpgrade) {
  const r = await sites.get(name)!.call('POST', '/agent/v1/sites/:site/report', {
    seq: ++seq,
    deployments: [],
    stack: {
      agentVersion: '0.3.0',
      nodes: [node('server', version), node('agent-1', version)],
      ...(upgrade ? { upgrades: [upgrade] } : {}),
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function givenRevision(name: string): Promise<number | undefined> {
  const r = await sites.get(name)!.call('GET', '/agent/v1/sites/:site/desired');
  return (r.body as DesiredState).stack?.revision;
}

async function revisions(): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const name of [...sites.keys()].sort()) out[name] = await givenRevision(name);
  return out;
}

async function rollout(): Promise<ProfileRolloutDetail> {
  const list = await hub.operator('GET', '/api/v1/profile-rollouts?profile=stores');
  assert.equal(list.statusCode, 200, list.body);
  const id = list.json().items[0].id as string;
  const r = await hub.operator('GET', `/api/v1/profile-rollouts/${id}`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function apply(content: string) {
  const r = await hub.operator('POST', '/api/v1/profiles', {
    files: [{ path: 'profiles/stores.yaml', content }],
  });
  assert.equal(r.statusCode, 200, r.body);
}

before(async () => {
  hub = await startHubServer({ rollouts: { tickIntervalMs: 0 } });
  const strategy = await hub.operator('POST', '/api/v1/rollout-strategies', {
    name: 'stores-by-region',
    strategy: {
      waves: [{ name: 'canary', sites: ['west-1'] }, { groupBy: 'region' }],
      bakeSeconds: 0,
      maxConcurrent: '100%',
      onFailure: 'rollback',
    },
  });
  assert.ok([200, 201].includes(strategy.statusCode), strategy.body);
  for (const [name, region] of [
    ['west-1', 'west'],
    ['west-2', 'west'],
    ['east-1', 'east'],
    ['east-2', 'east'],
  ] as const)
    sites.set(name, await hub.enroll(name, { format: 'store', region }));
  await apply(profile('v1.30.6+k3s1'));
  for (const name of sites.keys()) await report(name, 'v1.30.6+k3s1');
});

after(async () => {
  await hub?.close();
});

test('a new revision starts a rollout that gives it to the canary first, the other sites keeping theirs', async () => {
  await apply(profile('v1.31.4+k3s1'));
  const started = await rollout();
  assert.equal(started.fromRevision, 1);
  assert.equal(started.toRevision, 2);
  assert.deepEqual(
    started.waves.map((w) => [w.name, w.sites]),
    [
      ['canary', 1],
      ['region=east', 2],
      ['region=west', 1],
    ],
  );
  assert.deepEqual(await revisions(), { 'east-1': 1, 'east-2': 1, 'west-1': 1, 'west-2': 1 });
  await tickProfileRollouts(hub.ctx);
  assert.deepEqual(await revisions(), { 'east-1': 1, 'east-2': 1, 'west-1': 2, 'west-2': 1 });
  assert.equal((await rollout()).waves[0]?.statuses.Updating, 1);
});

test('the canary done (Conformant to the new revision), the next wave is given it', async () => {
  await tickProfileRollouts(hub.ctx);
  assert.equal((await rollout()).waves[0]?.statuses.Updating, 1, 'still on the old version: not done');
  await report('west-1', 'v1.31.4+k3s1');
  await tickProfileRollouts(hub.ctx);
  const r = await rollout();
  assert.equal(r.waves[0]?.statuses.Updated, 1);
  assert.equal(r.wave, 'region=east');
  assert.deepEqual(await revisions(), { 'east-1': 2, 'east-2': 2, 'west-1': 2, 'west-2': 1 });
});

test('a site whose Kubernetes layer is Behind pauses the rollout and is marked; the rollout never rolls back', async () => {
  await report('east-2', 'v1.31.4+k3s1');
  await report('east-1', 'v1.30.6+k3s1', {
    layer: 'kubernetes',
    target: 'v1.31.4+k3s1',
    state: 'Behind',
    behind: ['agent-1'],
    detail: 'node agent-1 did not reach v1.31.4+k3s1 within 600 s',
    startedAt: hub.clock.now().toISOString(),
  });
  await tickProfileRollouts(hub.ctx);
  const r = await rollout();
  assert.equal(r.phase, 'Paused', JSON.stringify(r));
  assert.deepEqual(r.failed, [
    {
      site: 'east-1',
      wave: 'region=east',
      reason: 'kubernetes layer Behind (agent-1): node agent-1 did not reach v1.31.4+k3s1 within 600 s',
    },
  ]);
  assert.equal(r.strategy.onFailure, 'pause', 'the strategy said rollback; a profile rollout pauses');
  await tickProfileRollouts(hub.ctx);
  assert.deepEqual(
    await revisions(),
    { 'east-1': 2, 'east-2': 2, 'west-1': 2, 'west-2': 1 },
    'nothing is sent back, and the paused rollout starts no one',
  );
  const back = await hub.operator('POST', `/api/v1/profile-rollouts/${r.id}/actions`, { action: 'rollback' });
  assert.equal(back.statusCode, 409, back.body);
  assert.equal(back.json().error.code, 'conflict');
  const events = await hub.operator('GET', '/api/v1/events?type=rollout_site_failed');
  assert.ok(
    (events.json().items as Array<{ site?: string; message: string }>).some(
      (e) => e.site === 'east-1' && e.message.includes('kubernetes layer Behind (agent-1)'),
    ),
    events.body,
  );
});

test('resumed past the failure, the last wave is given the revision and the rollout succeeds', async () => {
  const { id } = await rollout();
  const resumed = await hub.operator('POST', `/api/v1/profile-rollouts/${id}/actions`, {
    action: 'resume',
    reason: 'east-1 is being fixed on site',
  });
  assert.equal(resumed.statusCode, 200, resumed.body);
  await tickProfileRollouts(hub.ctx);
  assert.equal(await givenRevision('west-2'), 2);
  await report('west-2', 'v1.31.4+k3s1');
  await tickProfileRollouts(hub.ctx);
  const r = await rollout();
  assert.equal(r.phase, 'Succeeded', JSON.stringify(r));
  assert.deepEqual(
    r.waves.map((w) => w.statuses),
    [{ Updated: 1 }, { Failed: 1, Updated: 1 }, { Updated: 1 }],
  );
});

test('conformance is kept per site as reports come: counts in the profile list and in /metrics', async () => {
  const list = await hub.operator('GET', '/api/v1/profiles');
  const stores = (list.json().items as Array<{ name: string; counts: Record<string, number> }>).find(
    (p) => p.name === 'stores',
  );
  assert.deepEqual(stores?.counts, { Conformant: 3, Upgrading: 0, Behind: 1, Ahead: 0, Unknown: 0 });
  const metrics = await hub.operator('GET', '/metrics');
  assert.equal(metrics.statusCode, 200);
  assert.match(metrics.body, /^outpost_profile_sites\{profile="stores",state="Behind"\} 1$/m);
  assert.match(metrics.body, /^outpost_profile_sites\{profile="stores",state="Conformant"\} 3$/m);
  assert.match(
    metrics.body,
    /^outpost_profile_layer_sites\{profile="stores",layer="kubernetes",state="Behind"\} 1$/m,
  );
  const attention = await hub.operator('GET', '/api/v1/attention');
  assert.deepEqual(
    (attention.json().items as Array<{ site: string; reason: string; detail: string }>).map((a) => [
      a.site,
      a.reason,
      a.detail,
    ]),
    [['east-1', 'ProfileBehind', 'behind profile stores r2: kubernetes (outpost profile show stores)']],
  );
  // the site fixed on site reports its nodes at the version: it is judged again at once
  await report('east-1', 'v1.31.4+k3s1');
  const after = (await hub.operator('GET', '/api/v1/profiles')).json().items as Array<{
    name: string;
    counts: Record<string, number>;
  }>;
  assert.equal(after.find((p) => p.name === 'stores')?.counts.Conformant, 4);
  assert.deepEqual((await hub.operator('GET', '/api/v1/attention')).json().items, []);
});

test('the profile rollout API refuses a missing token and a viewer acting', async () => {
  const { id } = await rollout();
  const none = await hub.operator('GET', '/api/v1/profile-rollouts', undefined, '');
  assert.equal(none.statusCode, 401);
  const viewer = await hub.tokenFor('viewer');
  const acting = await hub.operator(
    'POST',
    `/api/v1/profile-rollouts/${id}/actions`,
    { action: 'pause' },
    viewer,
  );
  assert.equal(acting.statusCode, 403);
  assert.equal((await hub.operator('GET', '/api/v1/profile-rollouts/nope')).statusCode, 404);
});
