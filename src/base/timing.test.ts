import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { backoffDelay, sleep, Wakeup } from './timing.ts';

// The ceiling as specified, independent of how the module guards against overflow.
function ceilingOf(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** attempt);
}

// [0, 1) like Math.random: never exactly 1.
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('backoffDelay', () => {
  test('the first attempt waits between half the base and the base', () => {
    assert.equal(
      backoffDelay(0, 1000, 60_000, () => 0),
      500,
    );
    assert.equal(
      backoffDelay(0, 1000, 60_000, () => 0.5),
      750,
    );
    assert.ok(backoffDelay(0, 1000, 60_000, () => 0.999999) <= 1000);
  });

  test('each attempt doubles the ceiling', () => {
    assert.equal(
      backoffDelay(1, 1000, 60_000, () => 0),
      1000,
    );
    assert.equal(
      backoffDelay(3, 1000, 60_000, () => 0),
      4000,
    );
  });

  test('the ceiling stops at max, however many attempts have failed', () => {
    assert.equal(
      backoffDelay(10, 1000, 60_000, () => 0),
      30_000,
    );
    assert.ok(backoffDelay(10_000, 1000, 60_000, () => 0.999999) <= 60_000);
  });

  test('the delay is jittered, so agents that failed together do not retry together', () => {
    assert.notEqual(
      backoffDelay(4, 1000, 60_000, () => 0.1),
      backoffDelay(4, 1000, 60_000, () => 0.9),
    );
  });

  test('without a random source it still stays within bounds', () => {
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, 1000, 60_000);
      assert.ok(d >= 2000 && d <= 4000, String(d));
    }
  });

  test('property: the delay lies in [ceiling/2, ceiling], ceiling = min(max, base·2^attempt)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 40 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        unit,
        (attempt, baseMs, maxMs, r) => {
          const ceiling = ceilingOf(attempt, baseMs, maxMs);
          const d = backoffDelay(attempt, baseMs, maxMs, () => r);
          assert.ok(d >= ceiling / 2 && d <= ceiling, `delay ${d} outside [${ceiling / 2}, ${ceiling}]`);
        },
      ),
    );
  });

  test('property: the delay never exceeds max, even for absurd attempt counts', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 100_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        unit,
        (attempt, baseMs, maxMs, r) => {
          const d = backoffDelay(attempt, baseMs, maxMs, () => r);
          assert.ok(Number.isFinite(d) && d <= maxMs, `delay ${d} > max ${maxMs}`);
        },
      ),
    );
  });

  test('property: a larger random never gives a shorter delay', () => {
    fc.assert(
      fc.property(fc.nat({ max: 20 }), unit, unit, (attempt, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        assert.ok(
          backoffDelay(attempt, 1000, 60_000, () => lo) <= backoffDelay(attempt, 1000, 60_000, () => hi),
        );
      }),
    );
  });
});

// Long enough that reaching it means the early exit did not happen; the checks want far less.
const longSleepMs = 5_000;
const promptlyMs = 1_000;

async function timed(p: Promise<void>): Promise<number> {
  const start = performance.now();
  await p;
  return performance.now() - start;
}

describe('Wakeup', () => {
  test('a sleep with nothing to end it lasts its time', async () => {
    const elapsed = await timed(new Wakeup().sleep(30, new AbortController().signal));
    assert.ok(elapsed >= 25, `returned after ${elapsed} ms`);
  });

  test('wake() ends a sleep early', async () => {
    const w = new Wakeup();
    const sleeping = w.sleep(longSleepMs, new AbortController().signal);
    setTimeout(() => w.wake(), 10);
    const elapsed = await timed(sleeping);
    assert.ok(elapsed < promptlyMs, `took ${elapsed} ms`);
  });

  test('an abort ends a sleep early', async () => {
    const w = new Wakeup();
    const ac = new AbortController();
    const sleeping = w.sleep(longSleepMs, ac.signal);
    setTimeout(() => ac.abort(), 10);
    const elapsed = await timed(sleeping);
    assert.ok(elapsed < promptlyMs, `took ${elapsed} ms`);
  });

  test('a sleep on an already aborted signal returns at once', async () => {
    const ac = new AbortController();
    ac.abort();
    const elapsed = await timed(new Wakeup().sleep(longSleepMs, ac.signal));
    assert.ok(elapsed < promptlyMs, `took ${elapsed} ms`);
  });

  test('a wake() before the sleep makes the next sleep return at once, so no wake-up is lost', async () => {
    const w = new Wakeup();
    w.wake();
    const elapsed = await timed(w.sleep(longSleepMs, new AbortController().signal));
    assert.ok(elapsed < promptlyMs, `took ${elapsed} ms`);
  });

  test('an early wake() is used up by one sleep; the one after that waits again', async () => {
    const w = new Wakeup();
    w.wake();
    await w.sleep(longSleepMs, new AbortController().signal);
    const elapsed = await timed(w.sleep(40, new AbortController().signal));
    assert.ok(elapsed >= 35, `returned after ${elapsed} ms`);
  });

  test('a wake() that ended a sleep is not carried over to the next sleep', async () => {
    const w = new Wakeup();
    const first = w.sleep(longSleepMs, new AbortController().signal);
    w.wake();
    await first;
    const elapsed = await timed(w.sleep(40, new AbortController().signal));
    assert.ok(elapsed >= 35, `returned after ${elapsed} ms`);
  });

  test('a sleep that ended by timeout leaves no abort listener behind', async () => {
    const ac = new AbortController();
    const w = new Wakeup();
    let calls = 0;
    const realAdd = ac.signal.addEventListener.bind(ac.signal);
    const realRemove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      calls++;
      realAdd(...args);
    }) as AbortSignal['addEventListener'];
    ac.signal.removeEventListener = ((...args: Parameters<AbortSignal['removeEventListener']>) => {
      calls--;
      realRemove(...args);
    }) as AbortSignal['removeEventListener'];
    for (let i = 0; i < 3; i++) await w.sleep(1, ac.signal);
    assert.equal(calls, 0);
  });
});

describe('sleep', () => {
  test('ends at once when its signal aborts', async () => {
    const stop = new AbortController();
    const started = Date.now();
    const slept = sleep(60_000, stop.signal);
    stop.abort();
    await slept;
    assert.ok(Date.now() - started < 1000);
  });

  test('without a signal it waits its time', async () => {
    const started = Date.now();
    await sleep(30);
    assert.ok(Date.now() - started >= 25);
  });
});
