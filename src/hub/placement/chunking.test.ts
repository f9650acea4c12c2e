import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type ChunkSizing, firstChunkSize, nextChunkSize } from './chunking.ts';

const sizing: ChunkSizing = { targetMs: 50, min: 25, max: 500 };

describe('placement chunk size', () => {
  test('a chunk that took twice the target halves the next one', () => {
    assert.equal(nextChunkSize(200, 100, sizing), 100);
  });

  test('a chunk at the target keeps its size', () => {
    assert.equal(nextChunkSize(120, 50, sizing), 120);
  });

  test('a fast chunk at most doubles the next one', () => {
    assert.equal(nextChunkSize(100, 5, sizing), 200);
    assert.equal(nextChunkSize(100, 0, sizing), 200);
  });

  test('a stalled chunk shrinks the next to the fewest at once', () => {
    assert.equal(nextChunkSize(400, 2000, sizing), 25);
  });

  test('never beyond the most sites a transaction may take', () => {
    assert.equal(nextChunkSize(400, 10, sizing), 500);
    assert.equal(firstChunkSize({ targetMs: 50, min: 25, max: 40 }), 40);
  });

  test('a chunk that placed nothing (every site skipped) starts again from the fewest', () => {
    assert.equal(nextChunkSize(0, 30, sizing), 25);
  });

  test('the first chunk is small, and at least one site', () => {
    assert.equal(firstChunkSize(sizing), 50);
    assert.equal(firstChunkSize({ targetMs: 50, min: 0, max: 1 }), 1);
  });

  test('always between the bounds; the placing rate is kept when neither bound nor growth limit binds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 500 }),
        (sites, ms, min, span, targetMs) => {
          const s: ChunkSizing = { targetMs, min, max: min + span };
          const next = nextChunkSize(sites, ms, s);
          assert.ok(Number.isInteger(next) && next >= s.min && next <= s.max, `${next}`);
          if (sites > 0 && ms > 0) {
            assert.ok(next <= Math.max(s.min, sites * 2), 'grows at most twofold');
            const fits = (sites * targetMs) / ms;
            if (fits >= s.min && fits <= s.max && fits <= sites * 2) assert.equal(next, Math.floor(fits));
          }
        },
      ),
    );
  });
});
