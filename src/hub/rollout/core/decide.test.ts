import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DeploymentState } from '../../../model/deployment.ts';
import { type RolloutStrategy, validateStrategy } from '../../../model/rollout-strategy.ts';
import type { Connectivity } from '../../../model/site.ts';
import { type Decision, decide, gateResults } from './decide.ts';
import {
  applyTransitions,
  type OperatorAction,
  planRollout,
  type RolloutState,
  type SiteFacts,
  type SiteRow,
  type SiteStatus,
} from './state.ts';

const T0 = Date.parse('2026-06-01T00:00:00Z'); // a Monday

/** A tiny controller: one rollout, its rows, the facts the hub would have, and a clock. */
class Fleet {
  strategy: RolloutStrategy;
  state: RolloutState;
  rows: SiteRow[];
  facts = new Map<string, SiteFacts>();
  now = T0;
  last: Decision | undefined;

  constructor(
    doc: unknown,
    n: number,
    facts: (i: number) => Partial<SiteFacts> & { labels?: Record<string, string> } = () => ({}),
  ) {
    const r = validateStrategy(doc);
    if ('problems' in r) throw new Error(JSON.stringify(r.problems));
    this.strategy = r.strategy;
    const sites = Array.from({ length: n }, (_, i) => ({
      id: `s${i}`,
      name: `site-${i}`,
      labels: facts(i).labels ?? {},
    }));
    const plan = planRollout(this.strategy, sites);
    this.state = plan.state;
    this.rows = plan.rows;
    sites.forEach((s, i) => {
      const { labels: _labels, ...f } = facts(i);
      this.facts.set(s.id, { name: s.name, connectivity: 'Online', timeZone: 'UTC', ...f });
    });
  }

  input() {
    return {
      strategy: this.strategy,
      state: this.state,
      sites: this.rows.map((r) => ({ ...r, ...this.facts.get(r.siteId)! })),
      now: new Date(this.now),
    };
  }

  tick(seconds = 0): Decision {
    this.now += seconds * 1000;
    const d = decide(this.input());
    this.rows = applyTransitions(this.rows, d.transitions);
    this.state = d.state;
    this.last = d;
    return d;
  }

  act(type: OperatorAction['type'], by = 'alice'): Decision {
    this.state = { ...this.state, actions: [...this.state.actions, { type, by }] };
    return this.tick();
  }

  set(id: string, f: Partial<SiteFacts>): void {
    this.facts.set(id, { ...this.facts.get(id)!, ...f });
  }

  report(ids: string[], deploymentState: DeploymentState): void {
    for (const id of ids) this.set(id, { deploymentState });
  }

  connectivity(ids: string[], connectivity: Connectivity): void {
    for (const id of ids) this.set(id, { connectivity });
  }

  status(id: string): SiteStatus {
    return this.rows.find((r) => r.siteId === id)!.status;
  }

  statuses(): Record<string, SiteStatus> {
    return Object.fromEntries(this.rows.map((r) => [r.siteId, r.status]));
  }

  inFlight(): number {
    return this.rows.filter((r) => r.status === 'Updating').length;
  }

  /** Makes every Updating site Ready and ticks until the rollout has no Updating site left. */
  settle(): void {
    this.report(
      this.rows.filter((r) => r.status === 'Updating').map((r) => r.siteId),
      'Ready',
    );
    this.tick();
  }

  events(): string[] {
    return (this.last?.events ?? []).map((e) => e.type);
  }
}

const quick = {
  bakeSeconds: 60,
  maxConcurrent: 10,
  waves: [
    { name: 'canary', count: 1 },
    { name: 'rest', percent: 100 },
  ],
};

describe('starting waves', () => {
  test('the first decision starts only the canary', () => {
    const f = new Fleet({}, 20);
    const d = f.tick();
    assert.deepEqual(d.start, ['s0']);
    assert.deepEqual(d.state.waves, ['canary', '10%', 'rest']);
    assert.equal(d.state.phase, 'Progressing');
    assert.deepEqual(d.transitions, [
      { siteId: 's0', from: 'Waiting', to: 'Updating', startedAt: '2026-06-01T00:00:00.000Z' },
    ]);
    assert.deepEqual(f.events(), ['SitesStarted']);
  });

  test('a healthy wave bakes for bakeSeconds, then the next wave starts', () => {
    const f = new Fleet(quick, 5);
    f.tick();
    f.report(['s0'], 'Ready');
    let d = f.tick(10);
    assert.equal(d.state.phase, 'Baking');
    assert.equal(d.state.waveHealthySince, new Date(T0 + 10_000).toISOString());
    assert.deepEqual(d.start, []);
    d = f.tick(59);
    assert.equal(d.state.phase, 'Baking');
    d = f.tick(1);
    assert.equal(d.state.phase, 'Progressing');
    assert.equal(d.state.wave, 1);
    assert.deepEqual(d.start, ['s1', 's2', 's3', 's4']);
    assert.deepEqual(f.events(), ['WaveCompleted', 'WaveStarted', 'SitesStarted']);
  });

  test('never more than maxConcurrent sites in flight; each finished one frees a slot', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 3 }, 10);
    assert.deepEqual(f.tick().start, ['s0', 's1', 's2']);
    assert.deepEqual(f.tick(5).start, []);
    f.report(['s1'], 'Ready');
    assert.deepEqual(f.tick(5).start, ['s3']);
    assert.equal(f.inFlight(), 3);
  });

  test('maxConcurrent as a share rounds down but never below one site', () => {
    assert.deepEqual(new Fleet({ waves: [{ percent: 100 }], maxConcurrent: '10%' }, 3).tick().start, ['s0']);
    assert.equal(new Fleet({ waves: [{ percent: 100 }], maxConcurrent: '10%' }, 25).tick().start.length, 2);
  });

  test('the same input gives the same output, and feeding the output back starts nothing again', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 2 }, 4);
    const input = f.input();
    const frozen = structuredClone(input);
    const a = decide(input);
    const b = decide(structuredClone(input));
    assert.deepEqual(a, b);
    assert.deepEqual(input, frozen, 'decide does not modify its input');
    f.tick();
    const again = f.tick();
    assert.deepEqual(again.start, []);
    assert.deepEqual(again.transitions, []);
    assert.deepEqual(again.events, []);
  });

  test('all waves done and baked: Succeeded, every site Updated', () => {
    const f = new Fleet({ ...quick, bakeSeconds: 0 }, 4);
    f.tick();
    f.settle();
    f.settle();
    assert.equal(f.state.phase, 'Succeeded');
    assert.deepEqual(Object.values(f.statuses()), ['Updated', 'Updated', 'Updated', 'Updated']);
    assert.ok(f.events().includes('RolloutSucceeded'));
  });

  test('the last wave bakes too before the rollout succeeds', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], bakeSeconds: 100, maxConcurrent: 2 }, 2);
    f.tick();
    f.settle();
    assert.equal(f.state.phase, 'Baking');
    assert.equal(f.tick(100).state.phase, 'Succeeded');
  });

  test('a rollout of no sites succeeds at once', () => {
    assert.equal(new Fleet({}, 0).tick().state.phase, 'Succeeded');
  });
});

describe('failures and the budget', () => {
  test('a site reporting Failed is marked failed; with zero tolerance the same decision pauses', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 2 }, 4);
    f.tick();
    f.report(['s1'], 'Failed');
    const d = f.tick(30);
    assert.deepEqual(d.markFailed, [{ siteId: 's1', reason: 'the site reported its deployment Failed' }]);
    assert.equal(d.state.phase, 'Paused');
    assert.match(d.state.reason ?? '', /1 site failed, more than the 0/);
    assert.deepEqual(d.start, [], 'nothing starts over the budget');
    assert.equal(d.state.failures, 1);
  });

  test('failures up to maxFailures are tolerated; the one beyond pauses before another site starts', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 1, maxFailures: 2 }, 6);
    f.tick();
    f.report(['s0'], 'Failed');
    assert.deepEqual(f.tick().start, ['s1']);
    f.report(['s1'], 'Failed');
    assert.deepEqual(f.tick().start, ['s2']);
    assert.equal(f.state.phase, 'Progressing');
    f.report(['s2'], 'Failed');
    const d = f.tick();
    assert.equal(d.state.phase, 'Paused');
    assert.deepEqual(d.start, []);
  });

  test('a site Updating past its progress deadline fails, but only while Online', () => {
    const f = new Fleet(
      { waves: [{ percent: 100 }], maxConcurrent: 2, progressDeadlineSeconds: 600, maxFailures: 5 },
      2,
    );
    f.tick();
    f.connectivity(['s1'], 'Stale');
    f.report(['s0', 's1'], 'Applying');
    assert.deepEqual(f.tick(599).markFailed, []);
    const d = f.tick(1);
    assert.deepEqual(d.markFailed, [{ siteId: 's0', reason: 'not Ready within 600 s (state Applying)' }]);
    assert.equal(
      f.status('s1'),
      'Updating',
      'a Stale site may just be unheard; it is not failed on time alone',
    );
  });

  test('onFailure rollback sends back exactly the sites that got the new revision', () => {
    const f = new Fleet(
      { waves: [{ percent: 100 }], maxConcurrent: 4, onFailure: 'rollback', maxFailures: 1 },
      7,
    );
    f.tick(); // s0..s3 start
    f.report(['s0'], 'Ready');
    f.report(['s1'], 'Failed');
    f.connectivity(['s3'], 'Offline'); // it has the revision as desired state while offline
    f.connectivity(['s6'], 'Offline');
    assert.deepEqual(f.tick().start, ['s4', 's5']); // s0 Updated, s1 Failed (within budget), s3, s6 Skipped
    f.report(['s4'], 'Failed');
    const d = f.tick();
    assert.equal(d.state.phase, 'RollingBack');
    assert.deepEqual([...d.rollback].sort(), ['s0', 's1', 's2', 's3', 's4', 's5']);
    assert.equal(f.status('s6'), 'Skipped', 'never started, so nothing to roll back');
    const done = f.tick();
    assert.equal(done.state.phase, 'Failed');
    assert.deepEqual(done.rollback, []);
  });

  test('a rollback not yet applied by the controller is issued again, not forgotten', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], onFailure: 'rollback', maxConcurrent: 2 }, 2);
    f.tick();
    f.report(['s0'], 'Failed');
    const input = f.input();
    const first = decide(input);
    const lost = decide({ ...input, state: first.state }); // rows never updated
    assert.deepEqual(lost.rollback, first.rollback);
    assert.equal(lost.state.phase, 'RollingBack');
  });

  test('a site that stops being Ready goes back to Updating, and its wave bakes again', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], bakeSeconds: 100, maxConcurrent: 2 }, 2);
    f.tick();
    f.settle();
    assert.equal(f.state.phase, 'Baking');
    f.report(['s0'], 'NotReady');
    const d = f.tick(50);
    assert.equal(f.status('s0'), 'Updating');
    assert.equal(d.state.phase, 'Progressing');
    assert.equal(d.state.waveHealthySince, undefined);
    f.report(['s0'], 'Ready');
    assert.equal(f.tick(1).state.phase, 'Baking');
    assert.equal(f.tick(99).state.phase, 'Baking', 'the bake restarted');
    assert.equal(f.tick(1).state.phase, 'Succeeded');
  });
});

describe('offline sites', () => {
  test('offline sites are set aside, never failed, and do not hold their wave', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 5, bakeSeconds: 0 }, 3);
    f.connectivity(['s1'], 'Offline');
    f.connectivity(['s2'], 'Expired');
    const d = f.tick();
    assert.deepEqual(d.start, ['s0']);
    assert.deepEqual(f.statuses(), { s0: 'Updating', s1: 'Skipped', s2: 'Skipped' });
    assert.deepEqual(d.markFailed, []);
    f.settle();
    assert.equal(f.state.phase, 'Succeeded');
    assert.equal(f.state.failures, 0);
  });

  test('a Stale site is online but slow: it starts like any other', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 5 }, 1, () => ({
      connectivity: 'Stale',
    }));
    assert.deepEqual(f.tick().start, ['s0']);
  });

  test('a site going offline mid-update is skipped, frees its slot, and is watched again when back', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 1, progressDeadlineSeconds: 60 }, 3);
    assert.deepEqual(f.tick().start, ['s0']);
    f.connectivity(['s0'], 'Offline');
    const d = f.tick(3600);
    assert.deepEqual(d.markFailed, [], 'far past the deadline, but offline is not failed');
    assert.equal(f.status('s0'), 'Skipped');
    assert.deepEqual(d.start, ['s1']);
    f.report(['s1'], 'Ready');
    f.connectivity(['s0'], 'Online');
    const back = f.tick(10);
    assert.deepEqual(back.start, [], 's0 already has the revision: it is resumed, not started again');
    assert.equal(f.status('s0'), 'Updating');
    assert.ok(back.events.some((e) => e.type === 'SiteResumed' && e.siteId === 's0'));
    assert.equal(back.transitions.find((t) => t.siteId === 's0')?.startedAt, new Date(f.now).toISOString());
  });

  test('a skipped site that comes back reports Ready and counts as Updated without a slot', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 1 }, 3);
    f.tick();
    f.connectivity(['s0'], 'Offline');
    f.tick(); // s0 skipped, s1 starts
    f.connectivity(['s0'], 'Online');
    f.report(['s0'], 'Ready');
    f.tick();
    assert.equal(f.status('s0'), 'Updated');
    assert.equal(f.status('s1'), 'Updating');
  });

  test('a skipped site gets the revision when it returns during a later wave', () => {
    const f = new Fleet({ ...quick, bakeSeconds: 0, maxConcurrent: 10 }, 4);
    f.connectivity(['s1'], 'Offline');
    f.tick();
    f.settle(); // canary done, rest starts without s1: s2, s3
    f.tick();
    assert.equal(f.status('s1'), 'Skipped');
    f.connectivity(['s1'], 'Online');
    assert.deepEqual(f.tick().start, ['s1']);
  });

  test('a skipped site gets the revision when it returns after the rollout succeeded', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], bakeSeconds: 0, maxConcurrent: 10 }, 3);
    f.connectivity(['s2'], 'Offline');
    f.tick();
    f.settle();
    assert.equal(f.state.phase, 'Succeeded');
    assert.deepEqual(f.statuses(), { s0: 'Updated', s1: 'Updated', s2: 'Skipped' });
    assert.deepEqual(f.tick(3600).start, [], 'still offline');
    f.connectivity(['s2'], 'Online');
    assert.deepEqual(f.tick(60).start, ['s2']);
    f.report(['s2'], 'Ready');
    f.tick();
    assert.equal(f.status('s2'), 'Updated');
    assert.equal(f.state.phase, 'Succeeded');
  });

  test('offline: wait holds the wave until its skipped sites are back and updated', () => {
    const f = new Fleet({ ...quick, bakeSeconds: 0, offline: 'wait' }, 3);
    f.connectivity(['s0'], 'Offline');
    f.tick();
    assert.equal(f.status('s0'), 'Skipped');
    assert.equal(f.tick(7200).state.wave, 0);
    f.connectivity(['s0'], 'Online');
    assert.deepEqual(f.tick().start, ['s0']);
    f.settle();
    assert.equal(f.state.wave, 1);
  });

  test('with every canary offline there is no evidence yet: the rollout waits, and promote moves on', () => {
    const f = new Fleet({ ...quick, bakeSeconds: 0, maxConcurrent: 10 }, 3);
    f.connectivity(['s0'], 'Offline');
    const d = f.tick();
    assert.equal(d.state.phase, 'Progressing');
    assert.equal(d.state.wave, 0);
    assert.match(d.state.reason ?? '', /waiting for a first site to update/);
    assert.deepEqual(f.events(), ['SiteSkipped', 'WaveStalled']);
    assert.deepEqual(f.tick(60).events, [], 'the stall is announced once');
    const p = f.act('promote');
    assert.equal(p.state.wave, 1);
    assert.deepEqual(p.start, ['s1', 's2']);
  });
});

describe('gates', () => {
  const gated = (extra: object = {}) => ({
    waves: [{ percent: 100 }],
    maxConcurrent: 5,
    bakeSeconds: 100,
    gates: [{ metric: 'error_rate', op: '<', threshold: 0.05 }],
    ...extra,
  });

  test('a failing gate pauses the rollout, even mid-wave', () => {
    const f = new Fleet({ ...gated(), maxConcurrent: 1 }, 3);
    f.tick();
    f.report(['s0'], 'Ready');
    f.set('s0', { metrics: { error_rate: 0.2 } });
    const d = f.tick();
    assert.equal(d.state.phase, 'Paused');
    assert.match(
      d.state.reason ?? '',
      /gate "error_rate" failed: worst error_rate over 1 updated site is 0.2, not < 0.05/,
    );
    assert.deepEqual(d.start, []);
  });

  test('a failing gate during the bake rolls back when onFailure is rollback', () => {
    const f = new Fleet(gated({ onFailure: 'rollback' }), 2, () => ({ metrics: { error_rate: 0.01 } }));
    f.tick();
    f.settle();
    assert.equal(f.state.phase, 'Baking');
    f.set('s1', { metrics: { error_rate: 0.5 } });
    const d = f.tick(50);
    assert.equal(d.state.phase, 'RollingBack');
    assert.deepEqual(d.rollback, ['s0', 's1']);
  });

  test('no data with policy wait: the wave waits up to maxWaitSeconds, then the rollout pauses', () => {
    const f = new Fleet(gated({ noData: { policy: 'wait', maxWaitSeconds: 300 } }), 2);
    f.tick();
    f.settle();
    assert.equal(f.state.phase, 'Progressing', 'not healthy without data');
    assert.equal(f.state.noDataSince, new Date(T0).toISOString());
    assert.deepEqual(f.events(), ['SitesUpdated', 'GateNoData']);
    assert.equal(f.tick(299).state.phase, 'Progressing');
    const d = f.tick(1);
    assert.equal(d.state.phase, 'Paused');
    assert.match(d.state.reason ?? '', /no data for 300 s/);
  });

  test('no data with policy wait: data arriving in time lets the wave bake', () => {
    const f = new Fleet(gated(), 2);
    f.tick();
    f.settle();
    f.set('s0', { metrics: { error_rate: 0.01 } });
    const d = f.tick(120);
    assert.equal(d.state.phase, 'Baking');
    assert.equal(d.state.noDataSince, undefined);
  });

  test('NaN is no data: it never lets a wave bake', () => {
    const f = new Fleet(gated(), 1, () => ({ metrics: { error_rate: Number.NaN } }));
    f.tick();
    f.settle();
    assert.equal(f.state.phase, 'Progressing');
    assert.ok(f.state.noDataSince);
  });

  test('no data with policy pass bakes; with policy fail pauses at once', () => {
    const pass = new Fleet(gated({ noData: { policy: 'pass' } }), 1);
    pass.tick();
    pass.settle();
    assert.equal(pass.state.phase, 'Baking');
    assert.match(
      pass.last!.events.find((e) => e.type === 'WaveHealthy')!.message,
      /no data, passed by policy/,
    );
    const fail = new Fleet(gated({ noData: { policy: 'fail' } }), 1);
    fail.tick();
    fail.settle();
    assert.equal(fail.state.phase, 'Paused');
  });

  test('a baseline comparison uses each updated site’s own values from before its start', () => {
    const f = new Fleet(
      gated({
        gates: [{ metric: 'latency', op: '<', threshold: 1000, compareToBaseline: { maxRatio: 1.5 } }],
      }),
      2,
      () => ({ metrics: { latency: 100 } }),
    );
    const start = f.tick();
    assert.deepEqual(
      start.transitions.map((t) => t.baseline),
      [{ latency: 100 }, { latency: 100 }],
    );
    f.set('s0', { metrics: { latency: 140 } });
    f.set('s1', { metrics: { latency: 120 } });
    f.settle();
    assert.equal(f.state.phase, 'Baking');
    f.set('s1', { metrics: { latency: 160 } });
    const d = f.tick(10);
    assert.equal(d.state.phase, 'Paused');
    assert.match(d.state.reason ?? '', /against a baseline of 100: more than 1.5 times worse/);
  });

  test('a comparison against not-updated sites uses the control group’s values now', () => {
    // a canary of one among four: the three others are the control group
    const f = new Fleet(
      gated({
        waves: [{ count: 1 }, { percent: 100 }],
        gates: [
          {
            metric: 'latency',
            op: '<',
            threshold: 1000,
            compareToBaseline: { maxRatio: 1.5, against: 'notUpdated' },
          },
        ],
      }),
      4,
      () => ({ metrics: { latency: 100 } }),
    );
    f.tick();
    // the whole fleet got slower (a busy day), the canary no more than the rest: it passes
    for (const id of ['s0', 's1', 's2', 's3']) f.set(id, { metrics: { latency: 300 } });
    f.settle();
    assert.equal(f.state.phase, 'Baking');
    // the canary alone is far slower than the sites still on the old revision: it fails
    f.set('s0', { metrics: { latency: 500 } });
    const d = f.tick(10);
    assert.equal(d.state.phase, 'Paused');
    assert.match(d.state.reason ?? '', /against a baseline of 300: more than 1.5 times worse/);
  });
});

describe('gate results for views', () => {
  const gate = { metric: 'latency', op: '<', threshold: 1000, compareToBaseline: { maxRatio: 1.5 } };
  const doc = { waves: [{ percent: 100 }], maxConcurrent: 5, bakeSeconds: 100, gates: [gate] };

  test('are what decide judged: observed over updated sites, baseline from before their start', () => {
    const f = new Fleet(doc, 2, () => ({ metrics: { latency: 100 } }));
    f.tick();
    f.set('s0', { metrics: { latency: 140 } });
    f.set('s1', { metrics: { latency: 160 } });
    f.settle();
    const d = f.tick(10);
    assert.equal(d.state.phase, 'Paused');
    const [r] = gateResults(f.strategy, f.input().sites);
    assert.deepEqual(r, {
      gate: 'latency',
      result: 'fail',
      observed: 160,
      baseline: 100,
      reason:
        'worst latency over 2 updated sites is 160 against a baseline of 100: more than 1.5 times worse',
    });
    assert.match(d.state.reason ?? '', new RegExp(r!.reason));
  });

  test('count only sites marked Updated, and say no data before any is', () => {
    const f = new Fleet(doc, 2, () => ({ metrics: { latency: 100 } }));
    f.tick();
    // Ready now, but the controller has not marked them Updated yet: the view does not guess
    f.report(['s0', 's1'], 'Ready');
    const [before] = gateResults(f.strategy, f.input().sites);
    assert.equal(before!.result, 'no-data');
    assert.equal(before!.observed, undefined);
    f.tick();
    const [after] = gateResults(f.strategy, f.input().sites);
    assert.equal(after!.result, 'pass');
    assert.equal(after!.observed, 100);
    assert.equal(after!.baseline, 100);
  });

  test('one result per gate, in the strategy’s order', () => {
    const f = new Fleet(
      { ...doc, gates: [gate, { name: 'errors', metric: 'error_rate', op: '<', threshold: 0.05 }] },
      1,
    );
    assert.deepEqual(
      gateResults(f.strategy, f.input().sites).map((r) => [r.gate, r.result]),
      [
        ['latency', 'no-data'],
        ['errors', 'no-data'],
      ],
    );
  });
});

describe('windows', () => {
  const nights = [{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '01:00', end: '05:00' }];

  test('sites start only inside their own maintenance window', () => {
    // T0 is Monday 00:00 UTC: 02:00 in Berlin (open), 20:00 on Sunday in New York (closed).
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 5, windows: nights }, 2, (i) => ({
      timeZone: i === 0 ? 'Europe/Berlin' : 'America/New_York',
    }));
    assert.deepEqual(f.tick().start, ['s0']);
    f.report(['s0'], 'Ready');
    assert.deepEqual(f.tick(4 * 3600).start, [], 'New York 00:00, still closed');
    assert.deepEqual(f.tick(3600).start, ['s1'], 'New York 01:00 on Monday');
  });

  test('an emergency rollout ignores windows', () => {
    const f = new Fleet(
      { waves: [{ percent: 100 }], maxConcurrent: 5, windows: nights, emergency: true },
      2,
      () => ({
        timeZone: 'America/New_York',
      }),
    );
    assert.deepEqual(f.tick().start, ['s0', 's1']);
  });

  test('with windows, a site without a known time zone is set aside, not guessed into UTC', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 5, windows: nights }, 3, (i) => ({
      timeZone: [undefined, 'Mars/Olympus', 'Europe/Berlin'][i],
    }));
    const d = f.tick();
    assert.deepEqual(d.start, ['s2']);
    assert.deepEqual(f.statuses(), { s0: 'Skipped', s1: 'Skipped', s2: 'Updating' });
    assert.match(f.rows[0]!.reason ?? '', /no time zone/);
    assert.match(f.rows[1]!.reason ?? '', /unknown time zone "Mars\/Olympus"/);
    f.set('s0', { timeZone: 'Europe/Berlin' });
    assert.deepEqual(f.tick(60).start, ['s0'], 'fixed zone: it starts in its window');
  });

  test('without windows, time zones do not matter', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 5 }, 1, () => ({ timeZone: undefined }));
    assert.deepEqual(f.tick().start, ['s0']);
  });
});

describe('operator actions', () => {
  test('manual approval: after the bake the rollout waits; approve starts the next wave', () => {
    const f = new Fleet({ ...quick, approval: 'manual' }, 3);
    f.tick();
    f.settle();
    const d = f.tick(60);
    assert.equal(d.state.phase, 'AwaitingApproval');
    assert.deepEqual(f.tick(86_400).start, []);
    const a = f.act('approve');
    assert.equal(a.state.phase, 'Progressing');
    assert.equal(a.state.wave, 1);
    assert.deepEqual(a.start, ['s1', 's2']);
    assert.match(a.events[0]!.message, /approved by alice/);
  });

  test('approve is ignored unless the rollout awaits approval', () => {
    const f = new Fleet(quick, 3);
    f.tick();
    const d = f.act('approve');
    assert.equal(d.state.wave, 0);
    assert.deepEqual(
      d.events.map((e) => e.type),
      ['ActionIgnored'],
    );
    assert.deepEqual(d.state.actions, [], 'the queue is consumed either way');
  });

  test('promote skips the rest of the bake', () => {
    const f = new Fleet({ ...quick, bakeSeconds: 3600 }, 3);
    f.tick();
    f.settle();
    const d = f.act('promote');
    assert.equal(d.state.wave, 1);
    assert.deepEqual(d.start, ['s1', 's2']);
  });

  test('the last wave also waits for a site left updating by a promoted wave', () => {
    const f = new Fleet({ ...quick, bakeSeconds: 0 }, 3);
    f.tick();
    f.report(['s0'], 'Applying');
    f.act('promote');
    f.report(['s1', 's2'], 'Ready');
    const d = f.tick(10);
    assert.equal(d.state.phase, 'Progressing', 's0 of the canary wave is still updating');
    f.report(['s0'], 'Ready');
    assert.equal(f.tick(10).state.phase, 'Succeeded');
  });

  test('promote cannot finish a last wave whose sites are still updating', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 1 }, 3);
    f.tick();
    const d = f.act('promote');
    assert.equal(d.state.phase, 'Progressing');
    assert.match(d.events[0]!.message, /the last wave still has sites to update/);
  });

  test('an operator pause stops starts; resume carries on with the bake clock it had', () => {
    const f = new Fleet({ ...quick, bakeSeconds: 100 }, 3);
    f.tick();
    f.settle();
    const p = f.act('pause');
    assert.equal(p.state.phase, 'Paused');
    assert.equal(p.state.reason, 'paused by alice');
    f.tick(60);
    f.now += 40_000;
    const r = f.act('resume');
    assert.equal(r.state.wave, 1, 'healthy since before the pause, baked for 100 s');
    assert.deepEqual(r.start, ['s1', 's2']);
  });

  test('resume after a failure pause accepts the failures so far; the next failure pauses again', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 1 }, 4);
    f.tick();
    f.report(['s0'], 'Failed');
    assert.equal(f.tick().state.phase, 'Paused');
    const r = f.act('resume');
    assert.equal(r.state.acceptedFailures, 1);
    assert.deepEqual(r.start, ['s1']);
    assert.match(r.events[0]!.message, /1 failure beyond the budget accepted/);
    f.report(['s1'], 'Failed');
    assert.equal(f.tick().state.phase, 'Paused');
  });

  test('retryFailed puts failed sites back in the queue, and they start again', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 1 }, 2, () => ({ metrics: { m: 1 } }));
    f.tick();
    f.report(['s0'], 'Failed');
    f.tick();
    f.set('s0', { deploymentState: 'Applying', metrics: { m: 2 } });
    const d = f.act('retryFailed');
    assert.equal(d.state.phase, 'Paused', 'retry does not resume');
    assert.equal(f.status('s0'), 'Waiting');
    assert.equal(d.state.failures, 0);
    const r = f.act('resume');
    assert.deepEqual(r.start, ['s0']);
    assert.deepEqual(f.rows[0]!.baseline, { m: 1 }, 'the baseline stays the one from before the first start');
  });

  test('abort stops where it is: nothing started, nothing rolled back', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 1 }, 3);
    f.tick();
    const d = f.act('abort');
    assert.equal(d.state.phase, 'Aborted');
    assert.deepEqual([d.start, d.rollback], [[], []]);
    f.report(['s0'], 'Ready');
    assert.deepEqual(f.tick(3600).transitions, [], 'an aborted rollout is final');
  });

  test('an operator rollback ends Aborted once every changed site is back', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 2 }, 4);
    f.connectivity(['s3'], 'Offline');
    f.tick();
    f.settle(); // s0, s1 Updated; s2 starts
    const d = f.act('rollback');
    assert.equal(d.state.phase, 'RollingBack');
    assert.deepEqual(d.rollback, ['s0', 's1', 's2'], 's3 never got the new revision');
    assert.equal(f.tick().state.phase, 'Aborted');
  });

  test('actions run in the order they were queued', () => {
    const f = new Fleet(quick, 3);
    f.tick();
    f.state = { ...f.state, actions: [{ type: 'pause' }, { type: 'resume' }, { type: 'pause', by: 'bob' }] };
    const d = f.tick();
    assert.equal(d.state.phase, 'Paused');
    assert.equal(d.state.reason, 'paused by bob');
  });
});

describe('transitions', () => {
  test('are applied as compare-and-set: a row that moved on is left alone', () => {
    const rows: SiteRow[] = [{ siteId: 's0', wave: 0, status: 'Updated' }];
    assert.deepEqual(
      applyTransitions(rows, [{ siteId: 's0', from: 'Waiting', to: 'Updating', startedAt: 'x' }]),
      rows,
    );
  });

  test('carry the reason of a failure to the row', () => {
    const f = new Fleet({ waves: [{ percent: 100 }], maxConcurrent: 1, maxFailures: 1 }, 2);
    f.tick();
    f.report(['s0'], 'Failed');
    f.tick();
    assert.deepEqual(f.rows[0], {
      siteId: 's0',
      wave: 0,
      status: 'Failed',
      startedAt: new Date(T0).toISOString(),
      reason: 'the site reported its deployment Failed',
    });
  });
});
