import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seriesToNow } from './slo-series.ts';

const view = { budgetRemaining: 0.5, burn: { fast: 0.5 } };

test('a series that ends before now gets the view’s current values as its last point', () => {
  const series = [
    { t: '2026-01-01T00:00:00.000Z', budgetRemaining: 1, burnRate: null },
    { t: '2026-01-01T00:55:00.000Z', budgetRemaining: 1, burnRate: 0 },
  ];
  const out = seriesToNow(series, view, new Date('2026-01-01T01:20:00Z'));
  assert.deepEqual(out.slice(0, 2), series);
  assert.deepEqual(out[2], { t: '2026-01-01T01:20:00.000Z', budgetRemaining: 0.5, burnRate: 0.5 });
});

test('a series that already reaches now is left as it is; an empty one gets the current point', () => {
  const series = [{ t: '2026-01-01T01:20:00.000Z', budgetRemaining: 0.7, burnRate: 1 }];
  assert.deepEqual(seriesToNow(series, view, new Date('2026-01-01T01:20:00Z')), series);
  assert.deepEqual(seriesToNow([], { budgetRemaining: 0.9, burn: { fast: null } }, new Date(0)), [
    { t: '1970-01-01T00:00:00.000Z', budgetRemaining: 0.9, burnRate: null },
  ]);
});
