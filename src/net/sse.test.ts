// The event-stream parser, as the CLI feeds it (a listener) and as the dashboard does (push's return):
// chunked anywhere, CRLF split between chunks, comments, ids that carry over, and reconnect delays.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { reconnectDelayMs, type SseMessage, SseParser } from './sse.ts';

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

test('an event split across chunks at any point comes out once, whole', () => {
  const text =
    'retry: 3000\n\nid: 41\nevent: registered\ndata: {"site":"a"}\n\n: keep-alive\n\nid: 42\ndata: x\n\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const p = new SseParser();
    const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
    assert.deepEqual(
      events,
      [
        { id: '41', event: 'registered', data: '{"site":"a"}' },
        { id: '42', event: 'message', data: 'x' },
      ],
      `cut at ${cut}`,
    );
    assert.equal(p.lastEventId, '42');
    assert.equal(p.retryMs, 3000);
  }
});

test('CRLF line ends, even split between chunks, end lines once', () => {
  const p = new SseParser();
  const events = [...p.push('data: a\r'), ...p.push('\ndata: b\r\n\r'), ...p.push('\n')];
  assert.deepEqual(events, [{ id: undefined, event: 'message', data: 'a\nb' }]);
});

test('comments and events without data dispatch nothing; an id carries to later events', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(': hello\n\nid: 5\nevent: x\n\n'), []);
  assert.deepEqual(p.push('data: y\n\n'), [{ id: '5', event: 'message', data: 'y' }]);
});

test('a field without a colon is a field with an empty value; unknown fields are ignored', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('data\nfoo: bar\ndata: z\n\n'), [{ id: undefined, event: 'message', data: '\nz' }]);
});

test('reconnect delays start at the advice and double up to the cap', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 50].map((n) => reconnectDelayMs(n, 1000, 10_000)),
    [1000, 2000, 4000, 8000, 10_000, 10_000],
  );
});
