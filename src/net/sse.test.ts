import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type SseMessage, SseParser } from './sse.ts';

const stream =
  'retry: 3000\n\n: keep-alive\n\nid: 1\nevent: failed\ndata: {"a":1}\n\nid: 2\r\nevent: came_back\r\ndata: line one\r\ndata: line two\r\n\r\n';

const expected: SseMessage[] = [
  { id: '1', event: 'failed', data: '{"a":1}' },
  { id: '2', event: 'came_back', data: 'line one\nline two' },
];

test('parses messages with ids, types and multi-line data, skipping comments and retry', () => {
  const got: SseMessage[] = [];
  new SseParser((m) => got.push(m)).push(stream);
  assert.deepEqual(got, expected);
});

test('property: however the bytes are split into chunks, the same messages come out', () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 12 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const got: SseMessage[] = [];
      const parser = new SseParser((m) => got.push(m));
      let from = 0;
      for (const p of [...points, stream.length]) {
        parser.push(stream.slice(from, p));
        from = p;
      }
      assert.deepEqual(got, expected);
    }),
  );
});
