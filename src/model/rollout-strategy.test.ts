import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  defaultWaves,
  type RolloutStrategy,
  type StrategyProblem,
  strategyDefaults,
  validateStrategy,
} from './rollout-strategy.ts';

function valid(input: unknown): RolloutStrategy {
  const r = validateStrategy(input);
  if ('problems' in r) assert.fail(JSON.stringify(r.problems));
  return r.strategy;
}

function problems(input: unknown): StrategyProblem[] {
  const r = validateStrategy(input);
  if ('strategy' in r) assert.fail('expected problems');
  return r.problems;
}

describe('defaults', () => {
  test('an empty strategy is canary, 10%, rest — never everything at once', () => {
    const s = valid({});
    assert.deepEqual(s.waves, [
      { name: 'canary', count: 1 },
      { name: '10%', percent: 10 },
      { name: 'rest', percent: 100 },
    ]);
    assert.deepEqual({ ...s, waves: undefined }, { ...strategyDefaults, waves: undefined });
    assert.deepEqual(valid(undefined), s);
    assert.deepEqual(valid(null), s);
  });

  test('the safe values: 10% at once, zero tolerance, pause, 5 min bake, 15 min deadline, wait for data', () => {
    const s = valid({});
    assert.equal(s.maxConcurrent, '10%');
    assert.equal(s.maxFailures, 0);
    assert.equal(s.onFailure, 'pause');
    assert.equal(s.bakeSeconds, 300);
    assert.equal(s.progressDeadlineSeconds, 900);
    assert.equal(s.approval, 'auto');
    assert.equal(s.offline, 'skip');
    assert.deepEqual(s.noData, { policy: 'wait', maxWaitSeconds: 600 });
    assert.equal(s.emergency, false);
    assert.deepEqual(s.windows, []);
    assert.deepEqual(s.gates, []);
  });

  test('given fields keep their values and the rest default, noData field by field', () => {
    const s = valid({ maxFailures: '5%', noData: { policy: 'fail' }, approval: 'manual' });
    assert.equal(s.maxFailures, '5%');
    assert.equal(s.approval, 'manual');
    assert.deepEqual(s.noData, { policy: 'fail', maxWaitSeconds: 600 });
    assert.equal(s.bakeSeconds, 300);
  });

  test('the strategy is a copy: editing the document afterwards changes nothing', () => {
    const doc = { waves: [{ sites: ['a'] }], windows: [{ days: ['Mon'], start: '01:00', end: '02:00' }] };
    const s = valid(doc);
    doc.waves[0]!.sites.push('b');
    doc.windows[0]!.days.push('Tue');
    assert.deepEqual(s.waves, [{ sites: ['a'] }]);
    assert.deepEqual(s.windows[0]!.days, ['Mon']);
    assert.notEqual(valid({}).waves, defaultWaves);
  });
});

describe('validateStrategy problems', () => {
  const cases: { name: string; input: unknown; paths: string[] }[] = [
    {
      name: 'maxConcurrent 0 can never move (unlike Fleet, no silent 1)',
      input: { maxConcurrent: 0 },
      paths: ['maxConcurrent'],
    },
    {
      name: 'maxConcurrent "0%" can never move either',
      input: { maxConcurrent: '0%' },
      paths: ['maxConcurrent'],
    },
    { name: 'more than 100%', input: { maxConcurrent: '150%' }, paths: ['maxConcurrent'] },
    {
      name: 'fractions of a site',
      input: { maxConcurrent: 1.5, maxFailures: -1 },
      paths: ['maxConcurrent', 'maxFailures'],
    },
    {
      name: 'words',
      input: { maxConcurrent: 'ten', maxFailures: '10 %' },
      paths: ['maxConcurrent', 'maxFailures'],
    },
    { name: 'a typo is not silently defaulted', input: { maxConcurency: 5 }, paths: ['maxConcurency'] },
    { name: 'no waves at all', input: { waves: [] }, paths: ['waves'] },
    {
      name: 'a wave that picks two ways, or none',
      input: { waves: [{ count: 1, percent: 5 }, { name: 'x' }] },
      paths: ['waves[0]', 'waves[1]'],
    },
    {
      name: 'wave sizes out of range',
      input: { waves: [{ count: 0 }, { percent: 0 }, { percent: 101 }, { sites: [] }] },
      paths: ['waves[0].count', 'waves[1].percent', 'waves[2].percent', 'waves[3].sites'],
    },
    {
      name: 'a bad selector points inside the wave',
      input: { waves: [{ selector: { matchExpressions: [{ key: 'region', operator: 'In' }] } }] },
      paths: ['waves[0].selector.matchExpressions[0].values'],
    },
    { name: 'a bad groupBy key', input: { waves: [{ groupBy: 'a/b/c' }] }, paths: ['waves[0].groupBy'] },
    {
      name: 'two waves with one name',
      input: {
        waves: [
          { name: 'canary', count: 1 },
          { name: 'canary', count: 2 },
        ],
      },
      paths: ['waves[1].name'],
    },
    {
      name: 'timings',
      input: {
        bakeSeconds: -1,
        progressDeadlineSeconds: 0,
        noData: { maxWaitSeconds: 1.5, policy: 'ignore' },
      },
      paths: ['bakeSeconds', 'progressDeadlineSeconds', 'noData.policy', 'noData.maxWaitSeconds'],
    },
    {
      name: 'enumerations',
      input: { onFailure: 'retry', approval: 'yes', offline: 'fail', emergency: 'true' },
      paths: ['onFailure', 'approval', 'offline', 'emergency'],
    },
    {
      name: 'gates and windows are checked by their own rules',
      input: {
        gates: [
          { metric: 'e', op: '<', threshold: 1 },
          { metric: 'e', op: '<', threshold: 2 },
        ],
        windows: [{ days: ['Mon'], start: '1', end: '2' }],
      },
      paths: ['gates[1]', 'windows[0].start', 'windows[0].end'],
    },
    { name: 'not an object', input: 'fast', paths: [''] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const found = problems(c.input);
      assert.deepEqual(
        found.map((p) => p.path),
        c.paths,
        JSON.stringify(found),
      );
      for (const p of found) assert.ok(p.message.length > 0);
    });
  }

  test('maxFailures may be 0 or "0%": zero tolerance is a valid choice', () => {
    assert.equal(valid({ maxFailures: 0 }).maxFailures, 0);
    assert.equal(valid({ maxFailures: '0%' }).maxFailures, '0%');
  });
});
