import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { BundleTelemetry } from '../../../model/telemetry-spec.ts';
import {
  type BundleScrape,
  bucketQuantile,
  deriveGoldenSignals,
  forwardedSamples,
} from './golden-signals.ts';
import { parsePrometheusText } from './prometheus-text.ts';

const spec: BundleTelemetry = {
  intervalSeconds: 30,
  targets: ['http://a/metrics', 'http://b/metrics'],
  annotatedPods: false,
  slis: {
    requests: { metric: 'http_requests_total' },
    errors: { metric: 'http_requests_total', match: { code: '5..' } },
    latency: { histogram: 'rt_seconds', thresholdSeconds: 0.5 },
    saturation: { metric: 'queue_depth', max: 100 },
  },
  forward: ['queue_depth'],
};

function scrape(at: number, targets: Record<string, string>): BundleScrape {
  return {
    at,
    targets: new Map(Object.entries(targets).map(([url, text]) => [url, parsePrometheusText(text).samples])),
  };
}

const exposition = (ok: number, failed: number, buckets: [number, number, number], depth: number) => `
http_requests_total{code="200"} ${ok}
http_requests_total{code="503"} ${failed}
rt_seconds_bucket{le="0.1"} ${buckets[0]}
rt_seconds_bucket{le="0.5"} ${buckets[1]}
rt_seconds_bucket{le="+Inf"} ${buckets[2]}
rt_seconds_count ${buckets[2]}
queue_depth ${depth}
`;

const byName = (samples: { name: string; v: number }[]) =>
  Object.fromEntries(samples.map((s) => [s.name, s.v]));

test('counters become per-interval deltas summed over targets; errors by label matcher; p99 and slow from buckets', () => {
  const prev = scrape(0, {
    'http://a/metrics': exposition(100, 5, [90, 100, 105], 10),
    'http://b/metrics': exposition(10, 0, [10, 10, 10], 3),
  });
  const cur = scrape(30_000, {
    'http://a/metrics': exposition(190, 15, [170, 190, 205], 40),
    'http://b/metrics': exposition(20, 0, [20, 20, 20], 3),
  });
  const out = deriveGoldenSignals('pos', spec, prev, cur);
  assert.ok(out.every((s) => s.class === 'sli' && s.bundle === 'pos' && s.t === 30_000));
  const v = byName(out);
  assert.equal(v.requests_total, 90 + 10 + 10 + 0);
  assert.equal(v.errors_total, 10);
  assert.equal(v.slow_requests_total, 100 + 10 - (90 + 10));
  assert.equal(v.saturation, 0.4);
  // 110 observations: rank 108.9 lies in (0.5, +Inf] → the last finite bound
  assert.equal(v.latency_p99_seconds, 0.5);
  assert.equal(out.find((s) => s.name === 'requests_total')!.d, 30_000);
});

test('a counter that went down was reset: its new value is the increase', () => {
  const prev = scrape(0, { 'http://a/metrics': exposition(1000, 50, [900, 1000, 1050], 0) });
  const cur = scrape(30_000, { 'http://a/metrics': exposition(7, 1, [6, 7, 8], 0) });
  const v = byName(deriveGoldenSignals('pos', spec, prev, cur));
  assert.equal(v.requests_total, 8);
  assert.equal(v.errors_total, 1);
});

test('the first scrape yields gauges only; a failed target counts nothing for the interval', () => {
  const first = scrape(0, { 'http://a/metrics': exposition(1, 0, [1, 1, 1], 50) });
  assert.deepEqual(
    deriveGoldenSignals('pos', spec, undefined, first).map((s) => s.name),
    ['saturation'],
  );
  const next: BundleScrape = { at: 30_000, targets: new Map() };
  assert.deepEqual(deriveGoldenSignals('pos', spec, first, next), []);
});

test('bucket quantiles interpolate within the bucket like histogram_quantile', () => {
  const q = bucketQuantile(0.5, [
    { le: 1, count: 0 },
    { le: 2, count: 100 },
    { le: Number.POSITIVE_INFINITY, count: 100 },
  ]);
  assert.equal(q, 1.5);
  fc.assert(
    fc.property(
      fc.array(fc.nat(1000), { minLength: 1, maxLength: 8 }),
      fc.double({ min: 0.01, max: 1, noNaN: true }),
      (counts, quantile) => {
        let cum = 0;
        const buckets = counts.map((c, i) => {
          cum += c;
          return { le: (i + 1) / 10, count: cum };
        });
        buckets.push({ le: Number.POSITIVE_INFINITY, count: cum });
        const v = bucketQuantile(quantile, buckets);
        if (cum === 0) return assert.equal(v, undefined);
        assert.ok(v !== undefined && v >= 0 && v <= counts.length / 10 + 1e-9, `${v}`);
      },
    ),
  );
});

test('forwarded series go as metric samples with their labels', () => {
  const cur = scrape(5, { 'http://a/metrics': 'queue_depth{lane="3"} 7\nother 1\n' });
  assert.deepEqual(forwardedSamples('pos', spec, cur), [
    { class: 'metric', name: 'queue_depth', bundle: 'pos', labels: { lane: '3' }, t: 5, v: 7 },
  ]);
});

test('a labelled series that first appears in an interval counts from zero; a target not read before counts nothing', () => {
  const prev = scrape(0, { 'http://a/metrics': 'http_requests_total{code="200"} 10\n' });
  const cur = scrape(30_000, {
    'http://a/metrics': 'http_requests_total{code="200"} 15\nhttp_requests_total{code="500"} 2\n',
    'http://b/metrics': 'http_requests_total{code="200"} 1000\n',
  });
  const v = byName(deriveGoldenSignals('pos', spec, prev, cur));
  assert.equal(v.requests_total, 7);
  assert.equal(v.errors_total, 2);
});
