import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulatedSlis } from './slis.ts';

const bundles = [
  { bundle: 'pos', namespaces: ['pos'], digest: 'sha256:good' },
  { bundle: 'kiosk', namespaces: ['kiosk'], digest: 'sha256:bad' },
];
const signal = new AbortController().signal;

test('simulated SLIs follow the seed, and a bad release fails more', async () => {
  const make = () =>
    simulatedSlis({
      seed: 7,
      site: 'store-0001',
      errorRate: (_b, digest) => (digest === 'sha256:bad' ? 0.2 : 0.001),
    });
  const a = await make().collect(30_000, bundles, signal);
  const b = await make().collect(30_000, bundles, signal);
  assert.deepEqual(a, b, 'the same seed makes the same SLIs');
  const value = (bundle: string, name: string) =>
    a.samples.find((s) => s.bundle === bundle && s.name === name)!.v;
  assert.ok(value('pos', 'requests_total') >= 120 && value('pos', 'requests_total') <= 180);
  assert.ok(value('kiosk', 'errors_total') / value('kiosk', 'requests_total') > 0.05);
  assert.ok(value('pos', 'errors_total') / value('pos', 'requests_total') < 0.01);
  assert.ok(a.samples.every((s) => s.class === 'sli' && s.t === 30_000));
});
