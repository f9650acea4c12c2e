import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TokenBucket } from './token-bucket.ts';

test('a burst goes at once, then sending waits at the rate', () => {
  const bucket = new TokenBucket(1000, 2000, 0);
  assert.equal(bucket.take(2000, 0), 0);
  assert.equal(bucket.take(500, 0), 500);
  assert.equal(bucket.take(500, 1000), 0); // 1000 refilled, 500 owed before
});

test('over any run of sends, what went never exceeds burst plus rate times elapsed time', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 50 }), (sizes) => {
      const rate = 1000;
      const burst = 3000;
      const bucket = new TokenBucket(rate, burst, 0);
      let now = 0;
      let sent = 0;
      for (const size of sizes) {
        now += bucket.take(size, now); // wait as told, then send
        sent += size;
        assert.ok(sent <= burst + (rate * now) / 1000 + 1, `${sent} bytes by ${now} ms`);
      }
    }),
  );
});
