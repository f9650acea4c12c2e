import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fingerprint, notification, retryDelayMs, webhookMessage } from './notify.ts';

describe('alert notifications', () => {
  test("fingerprints match Prometheus' label-set fingerprints (values from prometheus/common's tests)", () => {
    assert.equal(fingerprint({}), 14695981039346656037n.toString(16));
    assert.equal(
      fingerprint({ name: 'garland, briggs', fear: 'love is not enough' }),
      5799056148416392346n.toString(16),
    );
  });

  test('the webhook body is Alertmanager version 4 with one alert, endsAt zero while firing', () => {
    const labels = { alertname: 'SloFastBurn', slo: 'pos-errors', bundle: 'pos', severity: 'page' };
    const m = webhookMessage(
      'ops',
      { status: 'firing', labels, annotations: { summary: 's' }, startsAt: '2026-01-01T00:00:00.000Z' },
      'https://hub.example',
    );
    assert.equal(m.version, '4');
    assert.equal(m.status, 'firing');
    assert.equal(m.groupKey, '{}:{alertname="SloFastBurn", slo="pos-errors"}');
    assert.deepEqual(m.alerts[0], {
      status: 'firing',
      labels,
      annotations: { summary: 's' },
      startsAt: '2026-01-01T00:00:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'https://hub.example',
      fingerprint: fingerprint(labels),
    });
  });

  test('dedup: firing once, again only after the repeat interval; resolved once and only after firing', () => {
    const hour = 3_600_000;
    const at = (ms: number) => new Date(ms);
    const sent = { status: 'firing' as const, notifiedAt: at(0).toISOString() };
    assert.equal(notification(undefined, true, at(0), hour), 'firing');
    assert.equal(notification(sent, true, at(hour - 1), hour), null);
    assert.equal(notification(sent, true, at(hour), hour), 'firing');
    assert.equal(notification(sent, false, at(10), hour), 'resolved');
    assert.equal(
      notification({ status: 'resolved', notifiedAt: sent.notifiedAt }, false, at(20), hour),
      null,
    );
    assert.equal(notification(undefined, false, at(0), hour), null);
    assert.equal(
      notification({ status: 'resolved', notifiedAt: sent.notifiedAt }, true, at(30), hour),
      'firing',
    );
  });

  test('retry delays double from the base up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, 1000, 30_000)),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000],
    );
  });
});
