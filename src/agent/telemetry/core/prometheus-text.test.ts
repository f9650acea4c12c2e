import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PromParseError, parsePrometheusText } from './prometheus-text.ts';

test('samples, labels with escapes, special values, timestamps and declared types are read', () => {
  const text = [
    '# HELP http_requests_total Requests.',
    '# TYPE http_requests_total counter',
    'http_requests_total{code="200",path="/a \\"b\\" \\\\ c\\nd"} 1027 1395066363000',
    'http_requests_total{code="500",} 3',
    '# TYPE rt histogram',
    'rt_bucket{le="0.1"} 2',
    'rt_bucket{le="+Inf"} 5',
    'up -Inf',
    'temp NaN',
    'plain 1.5e3',
    '',
  ].join('\n');
  const { samples, types } = parsePrometheusText(text);
  assert.equal(types.get('http_requests_total'), 'counter');
  assert.equal(types.get('rt'), 'histogram');
  assert.deepEqual(samples[0], {
    name: 'http_requests_total',
    labels: { code: '200', path: '/a "b" \\ c\nd' },
    value: 1027,
  });
  assert.deepEqual(samples[1]!.labels, { code: '500' });
  assert.deepEqual(samples[3], { name: 'rt_bucket', labels: { le: '+Inf' }, value: 5 });
  assert.equal(samples[4]!.value, Number.NEGATIVE_INFINITY);
  assert.ok(Number.isNaN(samples[5]!.value));
  assert.equal(samples[6]!.value, 1500);
});

test('a malformed line is refused with its line number', () => {
  for (const [text, line] of [
    ['ok 1\nbad{code="200" 1', 2],
    ['x{a=1} 2', 1],
    ['x 1 2 3', 1],
    ['\n\nx abc', 3],
    ['# TYPE x wrongtype', 1],
  ] as const) {
    assert.throws(
      () => parsePrometheusText(text),
      (e: unknown) => e instanceof PromParseError && e.line === line,
      text,
    );
  }
});
