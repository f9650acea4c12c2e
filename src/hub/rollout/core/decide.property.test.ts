// Random fleets, strategies and histories driven through decide the way the controller would: apply
// each decision, move the clock, let sites succeed, fail, flap and drop off, and check the invariants.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { DeploymentState } from '../../../model/deployment.ts';
import { type MaintenanceWindow, weekdays } from '../../../model/maintenance-window.ts';
import { type RolloutStrategy, validateStrategy } from '../../../model/rollout-strategy.ts';
import type { Connectivity } from '../../../model/site.ts';
import { type DecideInput, type Decision, decide } from './decide.ts';
import {
  applyTransitions,
  type OperatorActionType,
  planRollout,
  type RolloutState,
  type SiteProgress,
  type SiteRow,
} from './state.ts';
import { concurrencyLimit, failureBudget } from './strategy.ts';
import { inWindow } from './windows.ts';

/** Small deterministic PRNG, so a failing history replays from fast-check's seed alone. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimSite {
  id: string;
  name: string;
  labels: Record<string, string>;
  timeZone: string | undefined;
  connectivity: Connectivity;
  /** what the new revision does on this site */
  fate: 'ok' | 'fail' | 'hang';
  /** seconds the agent needs to apply */
  applySeconds: number;
  /** desired revision, as the controller set it */
  desired: 'old' | 'new';
  appliedAt: number | undefined;
  reported: DeploymentState | undefined;
  badMetric: boolean;
}

interface World {
  fleet: {
    labels: Record<string, string>;
    timeZone: string | undefined;
    fate: SimSite['fate'];
    applySeconds: number;
    badMetric: boolean;
    offline: boolean;
  }[];
  doc: Record<string, unknown>;
  start: number;
  seed: number;
  flaps: boolean;
}

const zones = [
  'UTC',
  'America/New_York',
  'Europe/Berlin',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  undefined,
  'Mars/Olympus',
];
// Starts near the 2026 DST changes of those zones.
const starts = [
  '2026-03-07T12:00:00Z',
  '2026-03-28T12:00:00Z',
  '2026-04-04T06:00:00Z',
  '2026-10-03T12:00:00Z',
  '2026-10-24T12:00:00Z',
  '2026-10-31T12:00:00Z',
  '2026-06-01T00:00:00Z',
];

const clock = fc
  .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 30))
  .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
const windowArb: fc.Arbitrary<MaintenanceWindow> = fc
  .record({
    days: fc.uniqueArray(fc.constantFrom(...weekdays), { minLength: 1, maxLength: 7 }),
    start: clock,
    end: clock,
  })
  .filter((w) => w.start !== w.end);

const waveArb = fc.oneof(
  fc.record({ count: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ percent: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ groupBy: fc.constant('region') }),
  fc.record({ selector: fc.constant({ matchLabels: { region: 'a' } }) }),
  fc.record({
    sites: fc.uniqueArray(
      fc.integer({ min: 0, max: 20 }).map((i) => `site-${String(i).padStart(2, '0')}`),
      { minLength: 1, maxLength: 3 },
    ),
  }),
);

const docArb = fc.record(
  {
    waves: fc.array(waveArb, { minLength: 1, maxLength: 4 }),
    maxConcurrent: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constantFrom('10%', '25%', '50%', '100%')),
    maxFailures: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom('0%', '10%', '30%')),
    bakeSeconds: fc.constantFrom(0, 60, 600, 3600),
    progressDeadlineSeconds: fc.constantFrom(300, 900, 3600),
    onFailure: fc.constantFrom('pause', 'rollback'),
    approval: fc.constantFrom('auto', 'manual'),
    offline: fc.constantFrom('skip', 'wait'),
    gates: fc.constantFrom(
      [],
      [{ metric: 'error_rate', op: '<', threshold: 0.5 }],
      [{ metric: 'error_rate', op: '<', threshold: 0.5, compareToBaseline: { maxDelta: 0.3 } }],
    ),
    noData: fc.record({
      policy: fc.constantFrom('wait', 'pass', 'fail'),
      maxWaitSeconds: fc.constantFrom(0, 600, 3600),
    }),
    emergency: fc.boolean(),
    windows: fc.oneof(fc.constant([]), fc.array(windowArb, { minLength: 1, maxLength: 2 })),
  },
  { requiredKeys: [] },
);

const worldArb: fc.Arbitrary<World> = fc.record({
  fleet: fc.array(
    fc.record({
      labels: fc.oneof(fc.constant({}), fc.record({ region: fc.constantFrom('a', 'b', 'c') })),
      timeZone: fc.constantFrom(...zones),
      fate: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'fail', 'hang'),
      applySeconds: fc.integer({ min: 0, max: 1200 }),
      badMetric: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      offline: fc.boolean(),
    }),
    { minLength: 0, maxLength: 20 },
  ),
  doc: docArb,
  start: fc.constantFrom(...starts).map(Date.parse),
  seed: fc.integer(),
  flaps: fc.boolean(),
});

const ACTIVE = ['Progressing', 'Baking', 'AwaitingApproval'];
// Mostly the actions that keep a rollout going; abort and rollback are rare so most histories run long.
const actions: OperatorActionType[] = [
  'pause',
  'resume',
  'resume',
  'promote',
  'approve',
  'approve',
  'retryFailed',
];

interface Run {
  strategy: RolloutStrategy;
  decisions: { input: DecideInput; decision: Decision; rowsAfter: SiteRow[] }[];
  sites: SimSite[];
}

/** Drives one rollout for up to `steps` decisions, checking the per-decision invariants on the way. */
function simulate(
  world: World,
  steps: number,
  check: (input: DecideInput, d: Decision, after: SiteRow[], sim: SimSite[]) => void,
): Run {
  const r = validateStrategy(world.doc);
  if ('problems' in r) throw new Error(JSON.stringify(r.problems));
  const strategy = r.strategy;
  const rnd = prng(world.seed);
  const sites: SimSite[] = world.fleet.map((f, i) => ({
    id: `id-${i}`,
    name: `site-${String(i).padStart(2, '0')}`,
    labels: f.labels,
    timeZone: f.timeZone,
    connectivity: f.offline && rnd() < 0.3 ? 'Offline' : 'Online',
    fate: f.fate,
    applySeconds: f.applySeconds,
    desired: 'old',
    appliedAt: undefined,
    reported: undefined,
    badMetric: f.badMetric,
  }));
  const byId = new Map(sites.map((s) => [s.id, s]));
  const plan = planRollout(strategy, sites);
  let state: RolloutState = plan.state;
  let rows: SiteRow[] = plan.rows;
  let now = world.start;
  const decisions: Run['decisions'] = [];

  for (let step = 0; step < steps; step++) {
    if (['Failed', 'Aborted', 'Superseded'].includes(state.phase)) break;
    // The world moves on.
    now += Math.floor(rnd() * 1800) * 1000;
    for (const s of sites) {
      const p = rnd();
      if (s.connectivity === 'Online')
        s.connectivity = p < 0.04 ? 'Offline' : p < 0.07 ? 'Stale' : p < 0.075 ? 'Expired' : 'Online';
      else if (s.connectivity === 'Stale')
        s.connectivity = p < 0.6 ? 'Online' : p < 0.7 ? 'Offline' : 'Stale';
      else s.connectivity = p < 0.25 ? 'Online' : s.connectivity;
      if (s.connectivity === 'Offline' || s.connectivity === 'Expired') continue; // its last report stands
      if (s.desired === 'old') {
        s.appliedAt = undefined;
        s.reported = undefined;
        continue;
      }
      s.appliedAt ??= now;
      const done = now - s.appliedAt >= s.applySeconds * 1000;
      if (!done || s.fate === 'hang') s.reported = 'Applying';
      else if (s.fate === 'fail') s.reported = 'Failed';
      else s.reported = world.flaps && rnd() < 0.05 ? 'NotReady' : 'Ready';
    }
    const p = rnd();
    if (p < 0.06) {
      const type =
        p < 0.001 ? 'abort' : p < 0.002 ? 'rollback' : actions[Math.floor(rnd() * actions.length)]!;
      state = { ...state, actions: [...state.actions, { type, by: 'sim' }] };
    }
    const input: DecideInput = {
      strategy,
      state,
      now: new Date(now),
      sites: rows.map((row): SiteProgress => {
        const s = byId.get(row.siteId)!;
        const metric = s.desired === 'new' ? (s.badMetric ? 0.9 : 0.01) : 0.02;
        return {
          ...row,
          name: s.name,
          connectivity: s.connectivity,
          deploymentState: s.desired === 'new' ? s.reported : undefined,
          timeZone: s.timeZone,
          metrics: rnd() < 0.1 ? { error_rate: Number.NaN } : { error_rate: metric },
        };
      }),
    };
    const d = decide(input);
    rows = applyTransitions(rows, d.transitions);
    state = d.state;
    for (const id of d.start) {
      const s = byId.get(id)!;
      s.desired = 'new';
      // An online agent picks the revision up at once; an offline one when it is back.
      s.appliedAt = s.connectivity === 'Offline' || s.connectivity === 'Expired' ? undefined : now;
    }
    for (const id of d.rollback) byId.get(id)!.desired = 'old';
    check(input, d, rows, sites);
    decisions.push({ input, decision: d, rowsAfter: rows });
  }
  return { strategy, decisions, sites };
}

function count(rows: readonly SiteRow[], status: SiteRow['status']): number {
  return rows.filter((r) => r.status === status).length;
}

const runs = { numRuns: 150 };

describe('rollouts over random fleets and histories', () => {
  test('never more than maxConcurrent in flight when no site flaps; a decision that starts never exceeds it', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        simulate(world, 120, (input, d, after) => {
          const cap = concurrencyLimit(input.strategy.maxConcurrent, input.sites.length);
          const resumed = d.events.some((e) => e.type === 'SiteResumed');
          if (d.start.length > 0 || resumed)
            assert.ok(count(after, 'Updating') <= cap, 'a start pushed past the cap');
          if (!world.flaps)
            assert.ok(count(after, 'Updating') <= cap, `${count(after, 'Updating')} in flight > ${cap}`);
        });
      }),
      runs,
    );
  });

  test('never more failures than maxFailures while the rollout moves: the pause or rollback comes first', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        simulate(world, 120, (input, d, after) => {
          const budget = failureBudget(input.strategy.maxFailures, input.sites.length);
          const counted = count(after, 'Failed') - d.state.acceptedFailures;
          if (ACTIVE.includes(d.state.phase))
            assert.ok(counted <= budget, `${counted} failures > ${budget} in ${d.state.phase}`);
          if (counted > budget && d.state.phase !== 'Succeeded')
            assert.deepEqual(d.start, [], 'started over the budget');
        });
      }),
      runs,
    );
  });

  test('offline sites are never counted as failures', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        simulate(world, 120, (input, d) => {
          const facts = new Map(input.sites.map((s) => [s.siteId, s]));
          const failed = new Set(d.markFailed.map((m) => m.siteId));
          for (const id of failed) {
            const c = facts.get(id)!.connectivity;
            assert.ok(c !== 'Offline' && c !== 'Expired', `${id} failed while ${c}`);
          }
          for (const t of d.transitions)
            if (t.to === 'Failed') assert.ok(failed.has(t.siteId), `${t.siteId} failed silently`);
        });
      }),
      runs,
    );
  });

  test('no site is started twice, unless an operator retried it after it failed', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const starts = new Map<string, number>();
        const retries = new Map<string, number>();
        simulate(world, 120, (input, d) => {
          const before = new Map(input.sites.map((s) => [s.siteId, s]));
          for (const t of d.transitions) {
            if (t.from === 'Failed' && t.to !== 'RolledBack')
              retries.set(t.siteId, (retries.get(t.siteId) ?? 0) + 1);
          }
          for (const id of d.start) {
            const row = before.get(id)!;
            assert.ok(
              row.status !== 'Updating' && row.status !== 'Updated',
              `${id} started while ${row.status}`,
            );
            starts.set(id, (starts.get(id) ?? 0) + 1);
            assert.ok(starts.get(id)! <= 1 + (retries.get(id) ?? 0), `${id} started twice`);
          }
          assert.equal(new Set(d.start).size, d.start.length);
        });
      }),
      runs,
    );
  });

  test('a rollout turns Succeeded only when every site is Updated, Skipped, or Failed within the budget', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        simulate(world, 150, (input, d, after) => {
          if (input.state.phase === 'Succeeded' || d.state.phase !== 'Succeeded') return;
          for (const r of after) {
            assert.ok(['Updated', 'Skipped', 'Failed'].includes(r.status), `${r.siteId} is ${r.status}`);
          }
          const budget = failureBudget(input.strategy.maxFailures, input.sites.length);
          assert.ok(count(after, 'Failed') - d.state.acceptedFailures <= budget);
          // Only an operator's promote may finish without evidence that the revision works anywhere.
          const promoted = input.state.actions.some((a) => a.type === 'promote');
          if (input.sites.length > 0 && !promoted)
            assert.ok(count(after, 'Updated') > 0, 'succeeded without a single updated site');
        });
      }),
      runs,
    );
  });

  test('no site starts outside its maintenance window unless the rollout is an emergency (DST dates included)', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        simulate(world, 120, (input, d) => {
          if (input.strategy.emergency) return;
          const tz = new Map(input.sites.map((s) => [s.siteId, s.timeZone]));
          for (const id of d.start)
            assert.ok(
              inWindow(input.strategy.windows, tz.get(id), input.now),
              `${id} started outside its window`,
            );
        });
      }),
      runs,
    );
  });

  test('sites start in wave order: never one of a wave after the current one', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        simulate(world, 120, (input, d) => {
          const wave = new Map(input.sites.map((s) => [s.siteId, s.wave]));
          for (const id of d.start) assert.ok(wave.get(id)! <= d.state.wave);
          if (!['Progressing', 'Succeeded'].includes(d.state.phase)) assert.deepEqual(d.start, []);
        });
      }),
      runs,
    );
  });

  test('a rollback sends back exactly the sites that were given the new revision', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const changed = new Set<string>();
        simulate(world, 120, (input, d) => {
          if (d.rollback.length > 0) assert.deepEqual([...d.rollback].sort(), [...changed].sort());
          for (const id of d.start) changed.add(id);
          for (const id of d.rollback) changed.delete(id);
          if (input.state.phase !== 'RollingBack' && d.state.phase === 'Failed')
            assert.equal(changed.size, 0);
        });
      }),
      runs,
    );
  });

  test('the same input gives the same output, and decide leaves its input alone', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        simulate(world, 60, (input, d) => {
          const copy = structuredClone(input);
          assert.deepEqual(decide(copy), d);
          assert.deepEqual(input, copy, 'the input was modified');
        });
      }),
      { numRuns: 60 },
    );
  });

  test('a healthy, always-online fleet without windows or gates always succeeds', () => {
    fc.assert(
      fc.property(worldArb, fc.integer({ min: 1, max: 20 }), (world, n) => {
        const calm: World = {
          ...world,
          fleet: Array.from({ length: n }, (_, i) => ({
            ...(world.fleet[i] ??
              world.fleet[0] ?? { labels: {}, timeZone: 'UTC', applySeconds: 0, badMetric: false }),
            fate: 'ok',
            offline: false,
          })),
          doc: { ...world.doc, windows: [], gates: [], approval: 'auto', progressDeadlineSeconds: 3600 },
          flaps: false,
        };
        const run = simulateCalm(calm);
        assert.equal(run.decisions.at(-1)?.decision.state.phase, 'Succeeded');
        assert.ok(run.decisions.at(-1)!.rowsAfter.every((r) => r.status === 'Updated'));
      }),
      { numRuns: 60 },
    );
  });
});

/** No flapping, no operator, no offline sites: only the rollout's own pace. */
function simulateCalm(world: World): Run {
  const r = validateStrategy(world.doc);
  if ('problems' in r) throw new Error(JSON.stringify(r.problems));
  const strategy = r.strategy;
  const plan = planRollout(
    strategy,
    world.fleet.map((f, i) => ({
      id: `id-${i}`,
      name: `site-${String(i).padStart(2, '0')}`,
      labels: f.labels,
    })),
  );
  let { state, rows } = plan;
  let now = world.start;
  const decisions: Run['decisions'] = [];
  for (let step = 0; step < 500 && state.phase !== 'Succeeded'; step++) {
    now += 600_000;
    const input: DecideInput = {
      strategy,
      state,
      now: new Date(now),
      sites: rows.map((row) => ({
        ...row,
        name: row.siteId,
        connectivity: 'Online',
        timeZone: 'UTC',
        deploymentState: row.startedAt ? 'Ready' : undefined,
        metrics: { error_rate: 0.01 },
      })),
    };
    const d = decide(input);
    rows = applyTransitions(rows, d.transitions);
    state = d.state;
    decisions.push({ input, decision: d, rowsAfter: rows });
  }
  return { strategy, decisions, sites: [] };
}
