// The uplink pace: bookings queue behind each other at the rate, and idle time is not saved up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UplinkPace } from './uplink-pace.ts';

test('uploads booked at once wait their turn at the rate, whoever books them', () => {
  const pace = new UplinkPace(32 * 1024);
  assert.equal(pace.book(16 * 1024, 1000), 0);
  assert.equal(pace.book(16 * 1024, 1000), 500);
  assert.equal(pace.book(32 * 1024, 1100), 900, 'a second session queues behind the first');
});

test('an idle uplink is not saved up for a burst later', () => {
  const pace = new UplinkPace(1000);
  assert.equal(pace.book(1000, 0), 0);
  assert.equal(pace.book(1000, 60_000), 0);
  assert.equal(pace.book(1000, 60_000), 1000, 'a minute idle buys no more than the rate');
});
