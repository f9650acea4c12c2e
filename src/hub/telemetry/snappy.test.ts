import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { snappyCompress, snappyDecompress } from './snappy.ts';

test('snappy round-trips any bytes, across 64 KiB blocks', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 50 }), (bytes, repeat) => {
      const input = new Uint8Array(bytes.length * repeat);
      for (let i = 0; i < repeat; i++) input.set(bytes, i * bytes.length);
      assert.deepEqual(snappyDecompress(snappyCompress(input)), input);
    }),
    { numRuns: 200 },
  );
});

test('repetitive input (like a protobuf of similar series) compresses well; the empty input is one byte', () => {
  const text = new TextEncoder().encode('requests_total{site="store-1",bundle="pos"} '.repeat(5000));
  const packed = snappyCompress(text);
  assert.ok(packed.length < text.length / 10, `${packed.length} of ${text.length}`);
  assert.deepEqual(snappyDecompress(packed), text);
  assert.deepEqual(snappyCompress(new Uint8Array()), Uint8Array.of(0));
});

test('a hand-built block decodes: literal "abcd" then a copy of 8 at offset 4', () => {
  // length 12; literal tag (4−1)<<2 = 0x0c; 1-byte-offset copy: len 8 → (8−4)<<2 | 1 = 0x11, offset 4
  const block = Uint8Array.of(12, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x11, 0x04);
  assert.equal(new TextDecoder().decode(snappyDecompress(block)), 'abcdabcdabcd');
  assert.throws(() => snappyDecompress(Uint8Array.of(12, 0x0c, 0x61)), /overruns/);
});
