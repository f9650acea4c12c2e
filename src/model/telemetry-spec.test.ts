import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTelemetrySpec } from './telemetry-spec.ts';

test('a full spec.telemetry is read with its defaults filled in', () => {
  const r = parseTelemetrySpec({
    targets: ['http://127.0.0.1:8080/metrics'],
    slis: {
      requests: { metric: 'http_requests_total' },
      errors: { metric: 'http_requests_total', match: { code: '5..' } },
      latency: { histogram: 'http_request_duration_seconds' },
      saturation: { metric: 'queue_depth', max: 50 },
    },
  });
  assert.deepEqual(r.problem ? r.problem : r.value, {
    intervalSeconds: 30,
    targets: ['http://127.0.0.1:8080/metrics'],
    annotatedPods: false,
    slis: {
      requests: { metric: 'http_requests_total' },
      errors: { metric: 'http_requests_total', match: { code: '5..' } },
      latency: { histogram: 'http_request_duration_seconds', thresholdSeconds: 0.5 },
      saturation: { metric: 'queue_depth', max: 50 },
    },
    forward: [],
  });
  assert.deepEqual(parseTelemetrySpec(undefined), { value: undefined });
});

test('each mistake names the path to fix', () => {
  const cases: Array<[unknown, string]> = [
    [{ intervalSeconds: 1 }, 'intervalSeconds'],
    [{ targets: ['ftp://x'] }, 'targets.0'],
    [
      { targets: ['http://x'], slis: { errors: { metric: 'e', match: { code: '5..(' } } } },
      'slis.errors.match.code',
    ],
    [{ targets: ['http://x'], slis: { latency: { histogram: 'bad name' } } }, 'slis.latency.histogram'],
    [
      { targets: ['http://x'], slis: { latency: { histogram: 'h', thresholdSeconds: 0 } } },
      'slis.latency.thresholdSeconds',
    ],
    [{ slis: { requests: { metric: 'r' } } }, 'targets'],
    [{ targets: ['http://x'], slis: { traffic: {} } }, 'slis.traffic'],
    [{ forward: ['ok', 'not ok'] }, 'forward'],
    [{ scrape: [] }, 'scrape'],
    [{ annotatedPods: 'yes' }, 'annotatedPods'],
  ];
  for (const [input, path] of cases) {
    const r = parseTelemetrySpec(input);
    assert.equal(r.problem?.path, path, JSON.stringify(input));
  }
});
