import assert from 'node:assert/strict';
import { test } from 'node:test';
import { utf8Chunks, utf8Prefix } from './utf8.ts';

test('chunks are at most the size, rejoin to the text, and never split a character', () => {
  const text = 'kassa ✓ öffnet — 10 €\n'.repeat(50);
  const chunks = utf8Chunks(text, Number.MAX_SAFE_INTEGER, 7);
  assert.equal(chunks.join(''), text);
  for (const c of chunks) {
    assert.ok(Buffer.byteLength(c) <= 7, `${JSON.stringify(c)} fits`);
    assert.ok(!c.includes('\uFFFD'), 'no replacement character');
  }
});

test('a limit cuts at the last whole character within it', () => {
  assert.equal(utf8Prefix('ab€cd', 4), 'ab', '€ is 3 bytes: a cut inside it drops it');
  assert.equal(utf8Prefix('ab€cd', 5), 'ab€');
  assert.equal(utf8Prefix('abc', 10), 'abc');
  assert.equal(utf8Prefix('abc', 0), '');
  assert.deepEqual(utf8Chunks('ab€cd', 6, 3), ['ab', '€', 'c']);
});
