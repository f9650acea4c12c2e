import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  alertLevel,
  attainment,
  budgetRemaining,
  burnRate,
  countsIn,
  defaultBurnRules,
  evaluateBurn,
  windowMs,
} from './budget.ts';

const close = (actual: number | null, expected: number) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} ≈ ${expected}`);

describe('SLO arithmetic, worked examples', () => {
  test('99.9% over 28 days: 1,000,000 requests and 300 errors leave 70% of the budget', () => {
    // budget = (1 − 0.999) × 1,000,000 = 1,000 bad requests allowed; 300 used → 700 left = 0.7
    const c = { requests: 1_000_000, bad: 300 };
    close(attainment(c), 0.9997);
    close(burnRate(c, 0.999), 0.3);
    close(budgetRemaining(c, 0.999), 0.7);
  });

  test('an overspent budget goes negative: 99% with 3,000 errors in 100,000 requests', () => {
    // allowed 1% of 100,000 = 1,000; 3,000 used → 1 − 3 = −2
    close(budgetRemaining({ requests: 100_000, bad: 3_000 }, 0.99), -2);
  });

  test('no requests: attainment and burn are no data, the budget is untouched', () => {
    assert.equal(attainment({ requests: 0, bad: 0 }), null);
    assert.equal(burnRate({ requests: 0, bad: 0 }, 0.999), null);
    assert.equal(budgetRemaining({ requests: 0, bad: 0 }, 0.999), 1);
  });

  test('windows: minutes, hours, days; anything else is refused', () => {
    assert.equal(windowMs('28d'), 28 * 24 * 3_600_000);
    assert.equal(windowMs('1h'), 3_600_000);
    assert.equal(windowMs('30m'), 1_800_000);
    for (const bad of ['0d', '1w', '28', 'd', '-1h', '1.5h']) assert.equal(windowMs(bad), undefined, bad);
  });

  test('fast burn: 1.5% errors against 99.9% is a burn of 15 over 1 h and 5 m, above 14.4 → fires', () => {
    // 1 h: 150 / 10,000 = 0.015; 0.015 / 0.001 = 15 > 14.4. 5 m: 12 / 800 = 0.015 → 15 > 14.4.
    const over = (ms: number) =>
      ms === 3_600_000
        ? { requests: 10_000, bad: 150 }
        : ms === 300_000
          ? { requests: 800, bad: 12 }
          : { requests: 0, bad: 0 };
    const [fast, slow] = evaluateBurn(defaultBurnRules, over, 0.999);
    close(fast!.long, 15);
    close(fast!.short, 15);
    assert.equal(fast!.firing, true);
    assert.equal(slow!.firing, false, 'no data over 6 h and 30 m never fires');
    assert.equal(
      alertLevel(
        evaluateBurn(defaultBurnRules, over, 0.999).map((v) => ({ kind: v.rule.kind, firing: v.firing })),
      ),
      'fast-burn',
    );
  });

  test('fast burn that already stopped: 1 h still at 15 but the last 5 m at 2 → no alert', () => {
    // 5 m: 16 / 8,000 = 0.002 → burn 2 < 14.4: the short window resets the alert quickly
    const over = (ms: number) =>
      ms === 300_000 ? { requests: 8_000, bad: 16 } : { requests: 10_000, bad: 150 };
    const [fast] = evaluateBurn(defaultBurnRules, over, 0.999);
    close(fast!.short, 2);
    assert.equal(fast!.firing, false);
  });

  test('slow burn: 0.7% errors against 99.9% burns at 7 over 6 h and 30 m (> 6), below 14.4', () => {
    // 6 h: 420 / 60,000 = 0.007 → 7; 30 m: 35 / 5,000 = 0.007 → 7; 1 h and 5 m also 7 < 14.4
    const rate = (requests: number) => ({ requests, bad: requests * 0.007 });
    const verdicts = evaluateBurn(defaultBurnRules, (ms) => rate(ms / 60), 0.999);
    const [fast, slow] = verdicts;
    close(slow!.long, 7);
    close(slow!.short, 7);
    assert.equal(slow!.firing, true);
    assert.equal(fast!.firing, false);
    assert.equal(alertLevel(verdicts.map((v) => ({ kind: v.rule.kind, firing: v.firing }))), 'slow-burn');
  });

  test('exactly at the factor does not fire (strictly above)', () => {
    // 0.006 / 0.001 = 6, not > 6
    const verdicts = evaluateBurn([defaultBurnRules[1]!], () => ({ requests: 1000, bad: 6 }), 0.999);
    assert.equal(verdicts[0]!.firing, false);
  });

  test('counts over buckets read errors or slow requests by the SLI kind, half-open ranges', () => {
    const buckets = [
      { start: 0, requests: 100, errors: 1, slow: 5 },
      { start: 300_000, requests: 200, errors: 2, slow: 7 },
      { start: 600_000, requests: 400, errors: 4, slow: 9 },
    ];
    assert.deepEqual(countsIn(buckets, 300_000, 900_000, 'errors'), { requests: 600, bad: 6 });
    assert.deepEqual(countsIn(buckets, 0, 600_000, 'latency'), { requests: 300, bad: 12 });
  });
});
