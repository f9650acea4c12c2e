import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RolloutStrategy } from '../../../model/rollout-strategy.ts';
import { concurrencyLimit, failureBudget, shareOf } from './strategy.ts';

describe('rounding shares of the fleet', () => {
  const concurrency: [RolloutStrategy['maxConcurrent'], number, number][] = [
    ['10%', 1, 1],
    ['10%', 3, 1],
    ['10%', 9, 1],
    ['10%', 19, 1],
    ['10%', 20, 2],
    ['10%', 25, 2],
    ['10%', 1000, 100],
    ['33.3%', 10, 3],
    ['100%', 7, 7],
    ['1%', 0, 1],
    [5, 3, 5],
    [1, 1000, 1],
  ];
  for (const [spec, total, want] of concurrency) {
    test(`maxConcurrent ${JSON.stringify(spec)} of ${total} sites is ${want}`, () => {
      assert.equal(concurrencyLimit(spec, total), want);
    });
  }

  const budget: [RolloutStrategy['maxFailures'], number, number][] = [
    ['10%', 5, 0],
    ['10%', 10, 1],
    ['10%', 19, 1],
    ['0%', 1000, 0],
    [0, 1000, 0],
    [3, 2, 3],
    ['100%', 4, 4],
  ];
  for (const [spec, total, want] of budget) {
    test(`maxFailures ${JSON.stringify(spec)} of ${total} sites is ${want} (rounds down, may be 0)`, () => {
      assert.equal(failureBudget(spec, total), want);
    });
  }

  test('a wave share rounds down but takes at least one site while any are left', () => {
    assert.equal(shareOf(10, 1), 1);
    assert.equal(shareOf(10, 3), 1);
    assert.equal(shareOf(10, 25), 2);
    assert.equal(shareOf(50, 3), 1);
    assert.equal(shareOf(100, 3), 3);
    assert.equal(shareOf(10, 0), 0);
  });
});
