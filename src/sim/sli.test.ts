import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sliNames, type TelemetrySample } from '../model/telemetry.ts';
import { type SliGenerator, sliSamples, trafficShare } from './sli.ts';

const noonUtc = Date.UTC(2026, 10, 21, 13, 0, 0);
const minute = 60_000;
const gen: SliGenerator = { seed: 7, site: 'store-0001', isBad: (b, r) => b === 'pos' && r === 3 };

function values(samples: readonly TelemetrySample[]): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [s.name, s.v]));
}

/** Totals and means over an hour of one-minute intervals. */
function hour(g: SliGenerator, revision: number, from = noonUtc) {
  let requests = 0;
  let errors = 0;
  let slow = 0;
  let latency = 0;
  for (let i = 1; i <= 60; i++) {
    const v = values(sliSamples(g, { bundle: 'pos', revision, t: from + i * minute, intervalMs: minute }));
    requests += v[sliNames.requests]!;
    errors += v[sliNames.errors]!;
    slow += v[sliNames.slow]!;
    latency += v[sliNames.latencyP99]! / 60;
  }
  return { requests, errorRate: errors / requests, slowRate: slow / requests, latency };
}

test('one interval gives the five golden signals of model/telemetry.ts, as SLI samples of the bundle', () => {
  const samples = sliSamples(gen, { bundle: 'pos', revision: 2, t: noonUtc, intervalMs: minute });
  assert.deepEqual(
    samples.map((s) => s.name),
    ['requests_total', 'errors_total', 'slow_requests_total', 'latency_p99_seconds', 'saturation'],
  );
  for (const s of samples) {
    assert.deepEqual([s.class, s.bundle, s.t, s.d], ['sli', 'pos', noonUtc, minute]);
    assert.ok(Number.isFinite(s.v) && s.v >= 0, `${s.name}=${s.v}`);
  }
  const v = values(samples);
  assert.ok(Number.isInteger(v.requests_total) && v.requests_total! > 0);
  assert.ok(v.errors_total! <= v.requests_total! && v.slow_requests_total! <= v.requests_total!);
  assert.ok(v.saturation! <= 1);
});

test('the same seed, site, bundle, revision and time give the same samples; another seed does not', () => {
  const at = { bundle: 'pos', revision: 2, t: noonUtc, intervalMs: minute };
  assert.deepEqual(sliSamples(gen, at), sliSamples({ ...gen }, at));
  assert.notDeepEqual(sliSamples(gen, at), sliSamples({ ...gen, seed: 8 }, at));
  assert.notDeepEqual(sliSamples(gen, at), sliSamples({ ...gen, site: 'store-0002' }, at));
});

test('a bad release raises the error rate, slow requests and latency well past a healthy one', () => {
  const healthy = hour(gen, 2);
  const bad = hour(gen, 3);
  assert.ok(healthy.errorRate < 0.01, `healthy error rate ${healthy.errorRate}`);
  assert.ok(bad.errorRate > 0.08, `bad error rate ${bad.errorRate}`);
  assert.ok(bad.slowRate > 5 * healthy.slowRate, `${bad.slowRate} vs ${healthy.slowRate}`);
  assert.ok(bad.latency > 4 * healthy.latency, `${bad.latency} vs ${healthy.latency}`);
  // traffic itself does not depend on the release: stores serve their customers either way
  assert.ok(Math.abs(bad.requests - healthy.requests) / healthy.requests < 0.1);
});

test('stores are busy by day and quiet at night, in their own time zone', () => {
  assert.ok(trafficShare(noonUtc) > 0.9);
  assert.ok(trafficShare(Date.UTC(2026, 10, 21, 3, 0, 0)) < 0.1);
  // 13:00 UTC is 05:00 in Los Angeles
  assert.ok(trafficShare(noonUtc, -8) < 0.1);
  const night = hour({ ...gen, utcOffsetHours: -8 }, 2);
  const day = hour(gen, 2);
  assert.ok(night.requests * 5 < day.requests, `${night.requests} at night vs ${day.requests} by day`);
});

test('profiles set a bundle baseline; other bundles keep the healthy defaults', () => {
  const busy: SliGenerator = { ...gen, profiles: { pos: { requestsPerSecond: 50 } } };
  const at = { revision: 2, t: noonUtc, intervalMs: minute };
  const pos = values(sliSamples(busy, { ...at, bundle: 'pos' }));
  const other = values(sliSamples(busy, { ...at, bundle: 'monitoring' }));
  assert.ok(
    pos.requests_total! > 5 * other.requests_total!,
    `${pos.requests_total} vs ${other.requests_total}`,
  );
});
