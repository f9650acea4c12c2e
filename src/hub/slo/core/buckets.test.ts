import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { TelemetrySample } from '../../../model/telemetry.ts';
import { bucketize, bucketMs, gateMetrics, mergeBuckets, type SliBucket, sliSeries } from './buckets.ts';

const sli = (name: string, t: number, v: number, bundle = 'pos'): TelemetrySample => ({
  class: 'sli',
  name,
  bundle,
  t,
  v,
});

describe('downsampling SLI samples', () => {
  test('counts sum and gauges keep their maximum per (bundle, 5-minute bucket)', () => {
    const buckets = bucketize([
      sli('requests_total', 10_000, 100),
      sli('requests_total', 70_000, 50),
      sli('errors_total', 70_000, 3),
      sli('latency_p99_seconds', 10_000, 0.4),
      sli('latency_p99_seconds', 70_000, 0.25),
      sli('saturation', 70_000, 0.5),
      sli('requests_total', bucketMs + 1, 7),
      sli('requests_total', 10_000, 9, 'other'),
    ]);
    assert.deepEqual(
      buckets.sort((a, b) => a.bundle.localeCompare(b.bundle) || a.start - b.start),
      [
        { bundle: 'other', start: 0, requests: 9, samples: 1 },
        {
          bundle: 'pos',
          start: 0,
          requests: 150,
          errors: 3,
          latencyMax: 0.4,
          saturationMax: 0.5,
          samples: 6,
        },
        { bundle: 'pos', start: bucketMs, requests: 7, samples: 1 },
      ],
    );
  });

  test('raw metrics, debug samples, SLIs without a bundle or with unknown names and negative counts are left out', () => {
    assert.deepEqual(
      bucketize([
        { class: 'metric', name: 'requests_total', bundle: 'pos', t: 0, v: 1 },
        { class: 'debug', name: 'requests_total', bundle: 'pos', t: 0, v: 1 },
        { class: 'sli', name: 'requests_total', t: 0, v: 1 },
        sli('made_up_total', 0, 1),
        sli('errors_total', 0, -4),
      ]),
      [],
    );
  });

  test('bucketizing in parts and merging equals bucketizing at once (what the store upsert relies on)', () => {
    const names = [
      'requests_total',
      'errors_total',
      'slow_requests_total',
      'latency_p99_seconds',
      'saturation',
    ];
    const sample = fc.record({
      name: fc.constantFrom(...names),
      t: fc.integer({ min: 0, max: 3 * bucketMs }),
      v: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(fc.array(sample), fc.array(sample), (a, b) => {
        const all = [...a, ...b].map((s) => sli(s.name, s.t, s.v));
        const key = (x: SliBucket) => `${x.bundle}/${x.start}`;
        const merged = new Map(bucketize(a.map((s) => sli(s.name, s.t, s.v))).map((x) => [key(x), x]));
        for (const x of bucketize(b.map((s) => sli(s.name, s.t, s.v)))) {
          const prev = merged.get(key(x));
          merged.set(key(x), prev ? mergeBuckets(prev, x) : x);
        }
        const sort = (xs: SliBucket[]) => xs.sort((p, q) => p.start - q.start);
        assert.deepEqual(sort([...merged.values()]), sort(bucketize(all)));
      }),
    );
  });
});

describe('gate metrics from buckets', () => {
  const buckets: SliBucket[] = [
    { bundle: 'pos', start: 0, requests: 1000, errors: 500, latencyMax: 9, samples: 3 },
    { bundle: 'pos', start: 300_000, requests: 200, errors: 10, slow: 20, latencyMax: 0.3, samples: 3 },
    {
      bundle: 'pos',
      start: 600_000,
      requests: 300,
      errors: 5,
      slow: 10,
      saturationMax: 0.8,
      latencyMax: 0.2,
      samples: 4,
    },
  ];

  test('only buckets since the start count: error rate 15/500 = 0.03, slow 30/500 = 0.06, max latency 0.3', () => {
    assert.deepEqual(gateMetrics(buckets, 300_000), {
      error_rate: 0.03,
      slow_rate: 0.06,
      latency_p99_seconds: 0.3,
      saturation: 0.8,
    });
  });

  test('missing data is absent, never 0: no buckets, or zero requests, give no rates', () => {
    assert.deepEqual(gateMetrics(buckets, 900_000), {});
    assert.deepEqual(gateMetrics([{ bundle: 'pos', start: 0, requests: 0, errors: 0, samples: 2 }], 0), {});
  });

  test('series per (bundle, name), stamped at the end of each bucket', () => {
    const s = sliSeries(buckets.slice(1));
    assert.deepEqual(
      s.map((x) => x.name),
      ['errors_total', 'latency_p99_seconds', 'requests_total', 'saturation', 'slow_requests_total'],
    );
    assert.deepEqual(s.find((x) => x.name === 'requests_total')!.points, [
      [600_000, 200],
      [900_000, 300],
    ]);
  });
});
