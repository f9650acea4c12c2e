// The event stream over a real socket: events arrive as they happen, a reconnect with Last-Event-ID
// misses nothing, idle streams get keep-alive comments, and closing the hub ends every stream.

import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, test } from 'node:test';
import type { HubContext } from '../../src/hub/context.ts';
import { emitEvents } from '../../src/hub/status/events.ts';
import { type SseMessage, SseParser } from '../../src/net/sse.ts';
import { type HubServer, startHubServer } from '../support/hub-server.ts';

let ctx: HubContext;
let server: HubServer;
let base: string;

before(async () => {
  server = await startHubServer({ connectivity: { sweepIntervalMs: 0 }, events: { streamHeartbeatMs: 100 } });
  ctx = server.ctx;
  base = server.url;
});

after(async () => {
  await server.close();
});

interface Stream {
  messages: SseMessage[];
  raw: string[];
  status: number;
  ended: Promise<void>;
  close(): void;
  /** resolves once `n` messages have arrived */
  until(n: number): Promise<void>;
}

function open(path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const messages: SseMessage[] = [];
    const raw: string[] = [];
    const waiters: Array<() => void> = [];
    const req = https.get(
      `${base}${path}`,
      {
        ca: ctx.tls.ca.certPem,
        headers: { authorization: `Bearer ${server.adminToken}`, accept: 'text/event-stream', ...headers },
      },
      (res) => {
        res.setEncoding('utf8');
        const parser = new SseParser((m) => {
          messages.push(m);
          for (const w of waiters.splice(0)) w();
        });
        const ended = new Promise<void>((done) => res.on('end', () => done()));
        res.on('data', (chunk: string) => {
          raw.push(chunk);
          parser.push(chunk);
          for (const w of waiters.splice(0)) w();
        });
        resolve({
          messages,
          raw,
          status: res.statusCode ?? 0,
          ended,
          close: () => req.destroy(),
          until: (n) =>
            new Promise((done, fail) => {
              const timer = setTimeout(
                () => fail(new Error(`only ${messages.length} of ${n} events arrived`)),
                5000,
              );
              const check = () => {
                if (messages.length >= n) {
                  clearTimeout(timer);
                  done();
                } else waiters.push(check);
              };
              check();
            }),
        });
      },
    );
    req.on('error', reject);
  });
}

const register = (name: string) => server.enroll(name);

test('the stream refuses a missing operator token', async () => {
  const s = await open('/api/v1/events/stream', { authorization: '' });
  assert.equal(s.status, 401);
  s.close();
});

test('events arrive on an open stream as they happen, typed and with ids', async () => {
  const s = await open('/api/v1/events/stream');
  assert.equal(s.status, 200);
  await register('stream-a');
  await emitEvents(ctx, [{ type: 'approved', site: 'stream-a', message: 'stream-a approved' }]);
  await s.until(2);
  assert.deepEqual(
    s.messages.map((m) => m.event),
    ['registered', 'approved'],
  );
  const [first, second] = s.messages.map((m) => JSON.parse(m.data));
  assert.equal(first.site, 'stream-a');
  assert.ok(Number(s.messages[1]!.id) > Number(s.messages[0]!.id));
  assert.equal(second.id, Number(s.messages[1]!.id));
  s.close();
});

test('a reconnect with Last-Event-ID gets exactly the events it missed', async () => {
  const s = await open('/api/v1/events/stream');
  await register('stream-b');
  await s.until(1);
  const lastId = s.messages[0]!.id!;
  s.close();
  await register('stream-c');
  await register('stream-d');
  const again = await open('/api/v1/events/stream', { 'last-event-id': lastId });
  await again.until(2);
  assert.deepEqual(
    again.messages.map((m) => JSON.parse(m.data).site),
    ['stream-c', 'stream-d'],
  );
  again.close();
});

test('a stream filtered by site sees only that site', async () => {
  const s = await open('/api/v1/events/stream?site=stream-f');
  await register('stream-e');
  await register('stream-f');
  await s.until(1);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    s.messages.map((m) => JSON.parse(m.data).site),
    ['stream-f'],
  );
  s.close();
});

test('an idle stream gets keep-alive comments', async () => {
  const s = await open('/api/v1/events/stream');
  await new Promise((r) => setTimeout(r, 350));
  assert.ok(s.raw.join('').includes(': keep-alive'), s.raw.join(''));
  s.close();
});

test('closing the hub ends open streams instead of waiting on them', async () => {
  const s = await open('/api/v1/events/stream');
  const started = Date.now();
  await server.app.close();
  await s.ended;
  assert.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`);
});
