// Rollouts end to end on a real hub (HTTPS, SQLite): sites act as agents over mTLS, reporting Ready or
// Failed for the digest in their desired state, while the test ticks the controller and moves the clock.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { tickRollouts } from '../../src/hub/rollout/controller.ts';
import { sweepConnectivity } from '../../src/hub/status/connectivity.ts';
import { bundleFile } from '../support/fleet.ts';
import {
  type HubServer,
  type Site,
  startHubServer,
  type TestClock,
  testClock,
} from '../support/hub-server.ts';

const adminToken = 'oat_00000000-0000-7000-8000-000000000002.rollout-secret-for-tests';
const config = { connectivity: { sweepIntervalMs: 0 }, rollouts: { tickIntervalMs: 0 } };

interface Agent {
  site: Site;
  seq: number;
  /** the digest this agent last reported on */
  reported?: string;
}

function configMap(version: string) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'app', namespace: 'default' },
    data: { version },
  };
}

async function apply(
  hub: HubServer,
  version: string,
  rollout?: Record<string, unknown> | string,
  opts: { supersede?: boolean } = {},
) {
  const r = await hub.operator('POST', '/api/v1/bundles/apply', {
    ...bundleFile('app', { matchLabels: { app: 'yes' } }, [configMap(version)], rollout ? { rollout } : {}),
    ...opts,
  });
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as { revision: number; rollout?: string };
}

async function desiredOf(agent: Agent): Promise<{ revision: number; digest: string } | undefined> {
  const r = await agent.site.call('GET', '/agent/v1/sites/:site/desired');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (
    r.body as { deployments: Array<{ bundle: string; revision: number; digest: string }> }
  ).deployments.find((d) => d.bundle === 'app');
}

/** Each agent applies what it is told: reports `outcome(revision)` for a digest it has not reported on yet. */
async function act(
  agents: readonly Agent[],
  outcome: (revision: number) => 'Ready' | 'Failed' = () => 'Ready',
) {
  for (const agent of agents) {
    const d = await desiredOf(agent);
    if (!d || d.digest === agent.reported) continue;
    const state = outcome(d.revision);
    const r = await agent.site.call('POST', '/agent/v1/sites/:site/report', {
      seq: ++agent.seq,
      deployments: [
        {
          bundle: 'app',
          digest: d.digest,
          state,
          counts: { total: 1, applied: 1, ready: state === 'Ready' ? 1 : 0 },
        },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    agent.reported = d.digest;
  }
}

async function fleet(hub: HubServer, n: number, prefix: string): Promise<Agent[]> {
  const agents: Agent[] = [];
  for (let i = 0; i < n; i++) {
    agents.push({
      site: await hub.enroll(`${prefix}-${String(i).padStart(2, '0')}`, { app: 'yes' }),
      seq: 0,
    });
  }
  return agents;
}

async function detail(hub: HubServer, id: string) {
  const r = await hub.operator('GET', `/api/v1/rollouts/${id}`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as {
    phase: string;
    wave: string;
    waves: Array<{ name: string; sites: number; statuses: Record<string, number> }>;
    waitingOffline: number;
    reason?: string;
  };
}

async function rows(hub: HubServer, id: string) {
  return hub.ctx.store.db.selectFrom('rollout_sites').selectAll().where('rollout_id', '=', id).execute();
}

async function eventTypes(hub: HubServer): Promise<string[]> {
  return (
    await hub.ctx.store.db.selectFrom('events').select('type').where('bundle', '=', 'app').execute()
  ).map((e) => e.type);
}

const threeWaves = {
  waves: [
    { name: 'canary', count: 1 },
    { name: 'early', count: 9 },
    { name: 'rest', percent: 100 },
  ],
  maxConcurrent: 4,
  bakeSeconds: 60,
  progressDeadlineSeconds: 3600,
};

const hubs: HubServer[] = [];
async function newHub(opts: { clock?: TestClock } = {}): Promise<HubServer> {
  const hub = await startHubServer(config, undefined, { adminToken, ...opts });
  hubs.push(hub);
  return hub;
}
after(async () => {
  for (const hub of hubs) await hub.close().catch(() => {});
});

describe('rollouts', () => {
  test('a 3-wave rollout over 50 sites completes, never over maxConcurrent in flight, later waves kept back', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 50, 'wave');
    await apply(hub, 'v1');
    await act(agents);
    const { rollout, revision } = await apply(hub, 'v2', threeWaves);
    assert.equal(revision, 2);
    assert.ok(rollout, 'a revision with spec.rollout starts a rollout');
    const waveOf = new Map((await rows(hub, rollout)).map((r) => [r.site_id, Number(r.wave)]));
    assert.deepEqual(
      [0, 1, 2].map((w) => [...waveOf.values()].filter((x) => x === w).length),
      [1, 9, 40],
    );
    let maxInFlight = 0;
    for (let step = 0; step < 60; step++) {
      await tickRollouts(hub.ctx);
      const current: string = (await detail(hub, rollout)).wave;
      const currentIndex = threeWaves.waves.findIndex((w) => w.name === current);
      const stored = await rows(hub, rollout);
      maxInFlight = Math.max(maxInFlight, stored.filter((r) => r.status === 'Updating').length);
      for (const agent of agents) {
        const d = await desiredOf(agent);
        if (waveOf.get(agent.site.siteId)! > currentIndex) {
          assert.equal(d?.revision, 1, `${agent.site.name} is in a later wave than ${current}`);
        }
      }
      await act(agents);
      await tickRollouts(hub.ctx);
      if ((await detail(hub, rollout)).phase === 'Succeeded') break;
      hub.clock.advance(61_000);
    }
    const done = await detail(hub, rollout);
    assert.equal(done.phase, 'Succeeded', JSON.stringify(done));
    assert.ok(maxInFlight <= 4 && maxInFlight > 1, `in flight at most 4 (saw ${maxInFlight})`);
    for (const agent of agents) assert.equal((await desiredOf(agent))?.revision, 2);
    assert.deepEqual(
      done.waves.map((w) => w.statuses),
      [{ Updated: 1 }, { Updated: 9 }, { Updated: 40 }],
    );
    const types = await eventTypes(hub);
    for (const t of ['rollout_started', 'wave_started', 'rollout_succeeded']) assert.ok(types.includes(t), t);
  });

  test('a bundle applied without spec.rollout reaches every site at once', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 3, 'now');
    await apply(hub, 'v1');
    const { rollout } = await apply(hub, 'v2');
    assert.equal(rollout, undefined);
    for (const agent of agents) assert.equal((await desiredOf(agent))?.revision, 2);
  });

  test('a newer revision without spec.rollout supersedes the running rollout and reaches every site', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 4, 'next');
    await apply(hub, 'v1');
    await act(agents);
    const { rollout } = await apply(hub, 'v2', {
      waves: [
        { name: 'canary', count: 1 },
        { name: 'rest', percent: 100 },
      ],
    });
    assert.ok(rollout);
    await tickRollouts(hub.ctx);
    assert.deepEqual((await Promise.all(agents.map(desiredOf))).map((d) => d?.revision).sort(), [1, 1, 1, 2]);
    await apply(hub, 'v3');
    assert.equal((await detail(hub, rollout)).phase, 'Superseded');
    for (const agent of agents) assert.equal((await desiredOf(agent))?.revision, 3);
    assert.ok((await eventTypes(hub)).includes('rollout_superseded'));
  });

  test('a canary that fails rolls the whole fleet back by itself', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 12, 'bad');
    await apply(hub, 'v1');
    await act(agents);
    const { rollout } = await apply(hub, 'v2', {
      waves: [
        { name: 'canary', count: 2 },
        { name: 'rest', percent: 100 },
      ],
      maxConcurrent: 2,
      onFailure: 'rollback',
    });
    assert.ok(rollout);
    await tickRollouts(hub.ctx);
    const started = (await rows(hub, rollout)).filter((r) => r.started_at !== null).map((r) => r.site_id);
    assert.equal(started.length, 2);
    for (const agent of agents) {
      assert.equal((await desiredOf(agent))?.revision, started.includes(agent.site.siteId) ? 2 : 1);
    }
    await act(agents, (revision) => (revision === 2 ? 'Failed' : 'Ready'));
    await tickRollouts(hub.ctx);
    await tickRollouts(hub.ctx);
    const d = await detail(hub, rollout);
    assert.ok(['RollingBack', 'Failed'].includes(d.phase), d.phase);
    for (const agent of agents) assert.equal((await desiredOf(agent))?.revision, 1, agent.site.name);
    const types = await eventTypes(hub);
    for (const t of ['rollout_site_failed', 'rollout_rolling_back', 'rollout_rolled_back']) {
      assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
    }
    // the rolled-back sites settle on the old revision; nothing more is started
    await act(agents);
    await tickRollouts(hub.ctx);
    assert.equal((await rows(hub, rollout)).filter((r) => r.status === 'Updating').length, 0);

    // once fixed on the sites, an operator starts the revision again through the API
    const again = await hub.operator('POST', '/api/v1/rollouts', {
      bundle: 'app',
      strategy: { waves: [{ name: 'all', percent: 100 }], maxConcurrent: 20, bakeSeconds: 0 },
    });
    assert.equal(again.statusCode, 201, again.body);
    const second = again.json() as { id: string; fromRevision: number; toRevision: number };
    assert.deepEqual([second.fromRevision, second.toRevision], [1, 2]);
    assert.equal((await detail(hub, rollout)).phase, 'Superseded');
    for (let step = 0; step < 5; step++) {
      await tickRollouts(hub.ctx);
      await act(agents);
      await tickRollouts(hub.ctx);
    }
    assert.equal((await detail(hub, second.id)).phase, 'Succeeded');
    for (const agent of agents) assert.equal((await desiredOf(agent))?.revision, 2, agent.site.name);
  });

  test('pause, resume and promote through the API; a viewer may look but not act', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 6, 'op');
    await apply(hub, 'v1');
    await act(agents);
    const { rollout } = await apply(hub, 'v2', {
      waves: [
        { name: 'canary', count: 1 },
        { name: 'rest', percent: 100 },
      ],
      maxConcurrent: 10,
      bakeSeconds: 3600,
    });
    assert.ok(rollout);
    const viewer = await hub.tokenFor('viewer');
    const refused = await hub.operator(
      'POST',
      `/api/v1/rollouts/${rollout}/actions`,
      { action: 'pause' },
      viewer,
    );
    assert.equal(refused.statusCode, 403);
    assert.equal(
      (await hub.operator('GET', `/api/v1/rollouts/${rollout}`, undefined, viewer)).statusCode,
      200,
    );
    const listed = (await hub.operator('GET', '/api/v1/rollouts?bundle=app', undefined, viewer)).json();
    assert.deepEqual(
      listed.items.map((r: { id: string }) => r.id),
      [rollout],
    );

    const paused = await hub.operator('POST', `/api/v1/rollouts/${rollout}/actions`, { action: 'pause' });
    assert.equal(paused.statusCode, 200, paused.body);
    assert.equal(paused.json().phase, 'Paused');
    await tickRollouts(hub.ctx);
    assert.equal(
      (await rows(hub, rollout)).filter((r) => r.started_at !== null).length,
      0,
      'paused: nothing starts',
    );

    const resumed = await hub.operator('POST', `/api/v1/rollouts/${rollout}/actions`, { action: 'resume' });
    assert.equal(resumed.json().phase, 'Progressing');
    assert.equal(
      (await rows(hub, rollout)).filter((r) => r.started_at !== null).length,
      1,
      'the canary starts',
    );
    await act(agents);
    await tickRollouts(hub.ctx);
    assert.equal((await detail(hub, rollout)).phase, 'Baking');

    // promote skips the hour-long bake: the rest start now
    const promoted = await hub.operator('POST', `/api/v1/rollouts/${rollout}/actions`, { action: 'promote' });
    assert.equal(promoted.statusCode, 200, promoted.body);
    assert.equal(promoted.json().wave, 'rest');
    for (const agent of agents) assert.equal((await desiredOf(agent))?.revision, 2);
    const audited = await hub.ctx.store.db.selectFrom('audit_log').select('action').execute();
    for (const a of ['rollout.pause', 'rollout.resume', 'rollout.promote']) {
      assert.ok(
        audited.some((x) => x.action === a),
        a,
      );
    }
    const bad = await hub.operator('POST', `/api/v1/rollouts/${rollout}/actions`, { action: 'explode' });
    assert.equal(bad.statusCode, 400);
    assert.equal((await hub.operator('GET', '/api/v1/rollouts/nope')).statusCode, 404);
  });

  test('a second hub on the same database file resumes the rollout and starts no site twice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outpost-rollout-'));
    try {
      const clock = testClock();
      const database = join(dir, 'hub.db');
      const first = await startHubServer({ ...config, database }, undefined, { adminToken, clock });
      const agents = await fleet(first, 8, 'restart');
      await apply(first, 'v1');
      await act(agents);
      const { rollout } = await apply(first, 'v2', {
        waves: [
          { name: 'canary', count: 1 },
          { name: 'rest', percent: 100 },
        ],
        maxConcurrent: 3,
        bakeSeconds: 0,
      });
      assert.ok(rollout);
      await tickRollouts(first.ctx);
      await act(agents);
      await tickRollouts(first.ctx);
      const before = await rows(first, rollout);
      const startedBefore = new Map(before.filter((r) => r.started_at).map((r) => [r.site_id, r.started_at]));
      assert.ok(startedBefore.size >= 1);
      assert.ok(
        before.some((r) => r.status === 'Waiting'),
        'the first hub stops mid-rollout',
      );
      const tls = first.ctx.tls;
      await first.close();

      const second = await startHubServer({ ...config, database }, undefined, { adminToken, clock, tls });
      hubs.push(second);
      const moved = agents.map((a) => ({
        ...a,
        site: second.siteClient(a.site.siteId, a.site.name, a.site.certPem!, a.site.keyPem),
      }));
      for (let step = 0; step < 20; step++) {
        clock.advance(5_000);
        await tickRollouts(second.ctx);
        await act(moved);
        await tickRollouts(second.ctx);
        if ((await detail(second, rollout)).phase === 'Succeeded') break;
      }
      assert.equal((await detail(second, rollout)).phase, 'Succeeded');
      const afterRows = await rows(second, rollout);
      for (const [site, startedAt] of startedBefore) {
        assert.equal(afterRows.find((r) => r.site_id === site)?.started_at, startedAt, 'not started again');
      }
      const startedEvents = await second.ctx.store.db
        .selectFrom('events')
        .select('details')
        .where('type', '=', 'rollout_progress')
        .execute();
      const startedCount = startedEvents
        .map((e) => JSON.parse(e.details) as { kind: string })
        .filter((d) => d.kind === 'SitesStarted').length;
      assert.ok(startedCount >= 1);
      for (const agent of moved) assert.equal((await desiredOf(agent))?.revision, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('offline sites are skipped, counted as waiting offline, and get the revision when they return', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 6, 'away');
    await apply(hub, 'v1');
    await act(agents);
    const gone = agents.slice(0, 2);
    const present = agents.slice(2);
    hub.clock.advance(700_000);
    // the present sites call home; the others stay silent and the sweep finds them offline
    for (const a of present) {
      await a.site.call('POST', '/agent/v1/sites/:site/report', { seq: ++a.seq, deployments: [] });
    }
    await sweepConnectivity(hub.ctx);
    const { rollout } = await apply(hub, 'v2', {
      waves: [{ name: 'all', percent: 100 }],
      maxConcurrent: 10,
      bakeSeconds: 0,
    });
    assert.ok(rollout);
    for (let step = 0; step < 5; step++) {
      await tickRollouts(hub.ctx);
      await act(present);
      await tickRollouts(hub.ctx);
    }
    const d = await detail(hub, rollout);
    assert.equal(d.waitingOffline, 2, JSON.stringify(d));
    for (const a of gone) assert.equal((await desiredOf(a))?.revision, 1, `${a.site.name} was offline`);
    for (const a of present) assert.equal((await desiredOf(a))?.revision, 2);

    // they come back: the next ticks give them the new revision
    for (const a of gone) {
      await a.site.call('POST', '/agent/v1/sites/:site/report', { seq: ++a.seq, deployments: [] });
    }
    for (let step = 0; step < 5; step++) {
      await tickRollouts(hub.ctx);
      await act(agents);
      await tickRollouts(hub.ctx);
    }
    for (const a of agents) assert.equal((await desiredOf(a))?.revision, 2, a.site.name);
    assert.equal((await detail(hub, rollout)).waitingOffline, 0);
  });

  test('a site is updated only inside its maintenance window, read in its own time zone', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 2, 'window');
    for (const [i, a] of agents.entries()) {
      // one store in UTC, one in Tokyo (UTC+9, no daylight saving): the same window opens 9 hours apart
      const timezone = i === 0 ? 'UTC' : 'Asia/Tokyo';
      const r = await hub.operator('PATCH', `/api/v1/sites/${a.site.name}`, { properties: { timezone } });
      assert.equal(r.statusCode, 200, r.body);
    }
    await apply(hub, 'v1');
    await act(agents);
    // a window that opens two hours from now in UTC and lasts an hour
    const hhmm = (d: Date) =>
      `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    const now = hub.clock.now();
    const start = new Date(now.getTime() + 2 * 3600_000);
    const end = new Date(now.getTime() + 3 * 3600_000);
    const days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
    const { rollout } = await apply(hub, 'v2', {
      waves: [{ name: 'all', percent: 100 }],
      maxConcurrent: 2,
      bakeSeconds: 0,
      windows: [{ days, start: hhmm(start), end: hhmm(end) }],
    });
    assert.ok(rollout);
    const revisions = async () => Promise.all(agents.map(async (a) => (await desiredOf(a))?.revision));
    await tickRollouts(hub.ctx);
    assert.deepEqual(await revisions(), [1, 1], 'outside every window nothing moves');
    hub.clock.advance(2 * 3600_000 + 60_000);
    await tickRollouts(hub.ctx);
    assert.deepEqual(
      await revisions(),
      [2, 1],
      'the UTC store is in its window; Tokyo is not (it is 9 hours later there)',
    );
    await act(agents);
    await tickRollouts(hub.ctx);
    // Tokyo's clock is 9 hours ahead, so the same wall-clock window opens there 15 hours after UTC's
    hub.clock.advance(15 * 3600_000 - 60_000);
    for (let step = 0; step < 3; step++) {
      await tickRollouts(hub.ctx);
      await act(agents);
    }
    assert.deepEqual(await revisions(), [2, 2]);
  });

  const twoWaves = {
    waves: [
      { name: 'canary', count: 1 },
      { name: 'rest', percent: 100 },
    ],
    maxConcurrent: 4,
    bakeSeconds: 0,
  };

  async function revisions(agents: readonly Agent[]): Promise<number[]> {
    return (await Promise.all(agents.map(desiredOf))).map((d) => d?.revision ?? 0).sort();
  }

  /** Ticks and lets the agents report Ready until the rollout reaches the phase (or gives up). */
  async function driveTo(hub: HubServer, agents: readonly Agent[], id: string, phase: string) {
    for (let step = 0; step < 12 && (await detail(hub, id)).phase !== phase; step++) {
      await tickRollouts(hub.ctx);
      await act(agents);
    }
    assert.equal((await detail(hub, id)).phase, phase);
  }

  test('a newer revision waits behind the running rollout, replacing an older one in the queue', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 4, 'queue');
    await apply(hub, 'v1');
    await act(agents);
    const { rollout: second } = await apply(hub, 'v2', twoWaves);
    assert.ok(second);
    await tickRollouts(hub.ctx);
    assert.deepEqual(await revisions(agents), [1, 1, 1, 2]);

    const { rollout: third } = await apply(hub, 'v3', twoWaves);
    assert.ok(third);
    const queued = await detail(hub, third);
    assert.equal(queued.phase, 'Queued');
    assert.match(queued.reason ?? '', new RegExp(second));
    assert.ok((await eventTypes(hub)).includes('rollout_queued'));
    // nothing jumps to r3 while r2's rollout runs, and the queued one takes no actions
    await tickRollouts(hub.ctx);
    assert.deepEqual(await revisions(agents), [1, 1, 1, 2]);
    const pause = await hub.operator('POST', `/api/v1/rollouts/${third}/actions`, { action: 'pause' });
    assert.equal(pause.statusCode, 409, pause.body);
    // an operator cannot start the running revision's rollout twice by accident
    const twice = await hub.operator('POST', '/api/v1/rollouts', { bundle: 'app' });
    assert.equal(twice.statusCode, 201, twice.body);
    const fourthId = (twice.json() as { id: string; phase: string }).id;
    assert.equal((await detail(hub, fourthId)).phase, 'Queued', 'r3 is the latest: its rollout queues');
    assert.equal((await detail(hub, third)).phase, 'Superseded', 'the newest request takes the queue');

    await driveTo(hub, agents, second, 'Superseded');
    // r2 finished first: every site ran r2 before the queued rollout moved it on
    await driveTo(hub, agents, fourthId, 'Succeeded');
    assert.deepEqual(await revisions(agents), [3, 3, 3, 3]);
    const fromRows = (await rows(hub, fourthId)).map((r) => r.from_revision);
    assert.deepEqual(fromRows, [2, 2, 2, 2]);
  });

  test('with supersede a new rollout starts at once; each site waits on the revision it runs', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 4, 'over');
    await apply(hub, 'v1');
    await act(agents);
    const { rollout: second } = await apply(hub, 'v2', twoWaves);
    assert.ok(second);
    await tickRollouts(hub.ctx);
    await act(agents);
    assert.deepEqual(await revisions(agents), [1, 1, 1, 2]);
    const { rollout: third } = await apply(
      hub,
      'v3',
      { ...twoWaves, waves: [{ name: 'canary', sites: [agents[3]!.site.name] }, { percent: 100 }] },
      { supersede: true },
    );
    assert.ok(third);
    assert.equal((await detail(hub, second)).phase, 'Superseded');
    assert.equal((await detail(hub, third)).phase, 'Progressing');
    // before the first step: the r2 canary stays on r2, the rest on r1
    assert.deepEqual(await revisions(agents), [1, 1, 1, 2]);
    await tickRollouts(hub.ctx);
    assert.deepEqual(await revisions(agents), [1, 1, 2, 3]);
    await driveTo(hub, agents, third, 'Succeeded');
    assert.deepEqual(await revisions(agents), [3, 3, 3, 3]);
  });

  test('a bundle may name a strategy; an unknown name is refused with the file and line', async () => {
    const hub = await newHub();
    const agents = await fleet(hub, 3, 'named');
    await apply(hub, 'v1');
    await act(agents);
    const { rollout } = await apply(hub, 'v2', 'manual');
    assert.ok(rollout);
    const r = await hub.operator('GET', `/api/v1/rollouts/${rollout}`);
    assert.equal((r.json() as { strategy: { approval: string } }).strategy.approval, 'manual');
    // the canary is healthy and bakes; after the bake the next wave waits for an approval
    await driveTo(hub, agents, rollout, 'Baking');
    assert.deepEqual(await revisions(agents), [1, 1, 2]);

    const bad = await hub.operator(
      'POST',
      '/api/v1/bundles/apply',
      bundleFile('app', { matchLabels: { app: 'yes' } }, [configMap('v3')], { rollout: 'careful' }),
    );
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(bad.json().error.code, 'bundle_invalid');
    assert.match(bad.json().error.message, /no strategy named "careful"/);
    assert.equal(bad.json().error.file, 'app.yaml');
  });

  test('an invalid inline strategy is refused with the file and line to fix', async () => {
    const hub = await newHub();
    const r = await hub.operator(
      'POST',
      '/api/v1/bundles/apply',
      bundleFile('app', { matchLabels: { app: 'yes' } }, [configMap('v1')], {
        rollout: { maxConcurrent: '0%' },
      }),
    );
    assert.equal(r.statusCode, 400, r.body);
    const error = r.json().error;
    assert.equal(error.code, 'bundle_invalid');
    assert.match(error.message, /spec\.rollout\.maxConcurrent/);
    assert.equal(error.file, 'app.yaml');
    assert.equal(typeof error.line, 'number');
  });
});
