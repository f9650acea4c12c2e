import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, burn, count, expiry, gateValue, parseCount, percent, span } from './format.ts';
import { siteTone } from './tone.ts';

const now = new Date('2026-03-01T12:00:00Z');

test('times read in their largest whole unit, past and future', () => {
  assert.equal(span(45_000), '45 s');
  assert.equal(ago('2026-03-01T11:48:00Z', now), '12 min ago');
  assert.equal(ago('2026-03-01T15:00:00Z', now), 'in 3 h');
  assert.equal(ago(null, now), 'never');
  assert.equal(ago('garbage', now), 'unknown');
});

test('certificate expiry says when and how urgent', () => {
  assert.deepEqual(expiry('2026-03-21T12:00:00Z', now), { text: 'expires in 20 d', urgency: 'ok' });
  assert.deepEqual(expiry('2026-03-03T12:00:00Z', now), { text: 'expires in 2 d', urgency: 'soon' });
  assert.deepEqual(expiry('2026-02-28T12:00:00Z', now), { text: 'expired 1 d ago', urgency: 'expired' });
  assert.equal(expiry(null, now).urgency, 'none');
});

test('no data never reads as zero', () => {
  assert.equal(percent(0.99935), '99.94%');
  assert.equal(percent(null), '–');
  assert.equal(percent(Number.NaN), '–');
  assert.equal(burn(null), 'no data');
  assert.equal(burn(2.5), '2.50×');
  assert.equal(burn(14.4), '14×');
});

test('counts group thousands and read back', () => {
  for (const n of [0, 7, 999, 1000, 12345, 100000, 1234567]) assert.equal(parseCount(count(n)), n);
  assert.equal(count(100000), '100,000');
});

test('a site tone puts failure first, then unreachability, then degradation', () => {
  assert.equal(siteTone('Pending', 'Offline', null), 'pending');
  assert.equal(siteTone('Active', 'Offline', 'Failed'), 'failed');
  assert.equal(siteTone('Active', 'Expired', 'Ready'), 'offline');
  assert.equal(siteTone('Active', 'Online', 'Drifted'), 'degraded');
  assert.equal(siteTone('Active', 'Stale', 'Ready'), 'stale');
  assert.equal(siteTone('Active', 'Online', 'Ready'), 'healthy');
  assert.equal(siteTone('Active', 'Online', null), 'idle');
});

test('gate values keep four significant digits and never show missing data as zero', () => {
  assert.equal(gateValue(0.21), '0.21');
  assert.equal(gateValue(0.0123456), '0.01235');
  assert.equal(gateValue(1234.56), '1235');
  assert.equal(gateValue(0), '0');
  assert.equal(gateValue(undefined), 'no data');
  assert.equal(gateValue(Number.NaN), 'no data');
});
