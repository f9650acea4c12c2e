import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type Connectivity, connectivityOf, defaultThresholds, siteNameProblem } from './site.ts';

const now = new Date('2025-06-01T12:00:00Z');

function silentFor(ms: number): Date {
  return new Date(now.getTime() - ms);
}

describe('connectivityOf', () => {
  const t = { staleAfterMs: 60_000, offlineAfterMs: 600_000 };

  test('a site heard from just now is Online', () => {
    assert.equal(connectivityOf(silentFor(0), now, t), 'Online');
  });

  test('a site is Online until just before the stale threshold', () => {
    assert.equal(connectivityOf(silentFor(t.staleAfterMs - 1), now, t), 'Online');
  });

  test('a site becomes Stale exactly at the stale threshold', () => {
    assert.equal(connectivityOf(silentFor(t.staleAfterMs), now, t), 'Stale');
  });

  test('a site stays Stale until just before the offline threshold', () => {
    assert.equal(connectivityOf(silentFor(t.offlineAfterMs - 1), now, t), 'Stale');
  });

  test('a site becomes Offline exactly at the offline threshold', () => {
    assert.equal(connectivityOf(silentFor(t.offlineAfterMs), now, t), 'Offline');
  });

  test('a site never heard from is Offline', () => {
    assert.equal(connectivityOf(undefined, now, t), 'Offline');
    assert.equal(connectivityOf(undefined, now), 'Offline');
  });

  test('a heartbeat stamped slightly in the future (clock skew) counts as Online', () => {
    assert.equal(connectivityOf(silentFor(-5_000), now, t), 'Online');
  });

  test('without thresholds the defaults apply', () => {
    assert.equal(connectivityOf(silentFor(defaultThresholds.staleAfterMs - 1), now), 'Online');
    assert.equal(connectivityOf(silentFor(defaultThresholds.staleAfterMs), now), 'Stale');
    assert.equal(connectivityOf(silentFor(defaultThresholds.offlineAfterMs), now), 'Offline');
  });

  test('property: longer silence never means better connectivity', () => {
    const rank: Record<Connectivity, number> = { Online: 0, Stale: 1, Offline: 2, Expired: 3 };
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.nat({ max: 1_000_000 }), (a, b) => {
        const [short, long] = a <= b ? [a, b] : [b, a];
        assert.ok(
          rank[connectivityOf(silentFor(short), now, t)] <= rank[connectivityOf(silentFor(long), now, t)],
        );
      }),
    );
  });
});

describe('siteNameProblem', () => {
  for (const name of ['store-0042', 'a', '0', 'x'.repeat(63), 'plant-7-line-b']) {
    test(`"${name.length > 20 ? `${name.slice(0, 10)}… (${name.length} chars)` : name}" is a valid site name`, () => {
      assert.equal(siteNameProblem(name), undefined);
    });
  }

  const bad: [string, RegExp][] = [
    ['', /1 to 63 characters/],
    ['x'.repeat(64), /1 to 63 characters/],
    ['Store-1', /lower-case/],
    ['-store', /starting and ending/],
    ['store-', /starting and ending/],
    ['store_1', /lower-case/],
    ['store.1', /lower-case/],
    ['store 1', /lower-case/],
  ];
  for (const [name, message] of bad) {
    test(`"${name.length > 20 ? `${name.slice(0, 10)}… (${name.length} chars)` : name}" is refused with a reason`, () => {
      const problem = siteNameProblem(name);
      assert.ok(problem !== undefined, 'expected a problem');
      assert.match(problem, message);
    });
  }
});
