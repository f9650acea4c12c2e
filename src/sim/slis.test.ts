import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulatedSlis } from './slis.ts';

const bundles = [
  { bundle: 'pos', namespaces: ['pos'], digest: 'sha256:good' },
  { bundle: 'kiosk', namespaces: ['kiosk'], digest: 'sha256:bad' },
];
const signal = new AbortController().signal;
// 14:00 UTC: a busy hour for a store at UTC+0
const busy = Date.parse('2026-06-01T14:00:00Z');

test('simulated SLIs follow the seed, and the bundle running a bad release fails more', async () => {
  const make = () => simulatedSlis({ seed: 7, site: 'store-0001', isBad: (b) => b.digest === 'sha256:bad' });
  const a = await make().collect(busy, bundles, signal);
  const b = await make().collect(busy, bundles, signal);
  assert.deepEqual(a, b, 'the same seed makes the same SLIs');
  const value = (bundle: string, name: string) =>
    a.samples.find((s) => s.bundle === bundle && s.name === name)!.v;
  // 5 requests/s at the busiest hour over the default 30 s interval, ±20%
  assert.ok(value('pos', 'requests_total') >= 100 && value('pos', 'requests_total') <= 180);
  assert.ok(value('kiosk', 'errors_total') / value('kiosk', 'requests_total') > 0.05);
  assert.ok(value('pos', 'errors_total') / value('pos', 'requests_total') < 0.01);
  assert.ok(value('kiosk', 'latency_p99_seconds') > value('pos', 'latency_p99_seconds'));
  assert.ok(a.samples.every((s) => s.class === 'sli' && s.t === busy && s.d === 30_000));
});

test('each interval covers the time since the last one, per bundle', async () => {
  const source = simulatedSlis({ seed: 1, site: 's', intervalMs: 10_000 });
  await source.collect(busy, bundles.slice(0, 1), signal);
  const next = await source.collect(busy + 25_000, bundles.slice(0, 1), signal);
  assert.ok(next.samples.every((s) => s.d === 25_000));
});
