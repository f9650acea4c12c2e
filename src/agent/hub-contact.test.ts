// The agent's retry pace toward an unreachable hub: a site whose link returns is back within a heartbeat.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hubRetryDelay } from './hub-contact.ts';

test('after any number of failures the hub is tried again within half a heartbeat', () => {
  for (const heartbeatMs of [50, 2000, 30_000])
    for (let failures = 0; failures < 40; failures++) {
      const delay = hubRetryDelay(failures, heartbeatMs);
      assert.ok(
        delay > 0 && delay <= heartbeatMs / 2,
        `${delay} ms after ${failures} failures (${heartbeatMs})`,
      );
    }
});

test('the first retries still back off from a second', () => {
  assert.ok(hubRetryDelay(0, 30_000) <= 1000);
  assert.ok(hubRetryDelay(3, 30_000) <= 8000);
  assert.ok(hubRetryDelay(30, 30_000) >= 7500);
});
