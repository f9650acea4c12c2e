// The telemetry sender against a real HTTPS receiver with mTLS that records what arrives (see
// test/support/telemetry-receiver.ts: the hub's own route is built on another branch).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TelemetryBuffer } from '../../src/agent/telemetry/buffer.ts';
import { TelemetrySender } from '../../src/agent/telemetry/sender.ts';
import { telemetryReceiver } from '../support/telemetry-receiver.ts';

async function setup(t: { after: (fn: () => Promise<void>) => void }, opts: { paused?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-sender-'));
  const hub = await telemetryReceiver();
  const buffer = await TelemetryBuffer.open(dir, { segmentBytes: 4096, maxBatchBytes: 8192 });
  const abort = new AbortController();
  const sender = new TelemetrySender(
    buffer,
    { send: (gz, signal) => hub.client.telemetry(gz, signal) },
    { flushMs: 20, backoffBaseMs: 5, backoffMaxMs: 20 },
  );
  let running: Promise<void> | undefined;
  const start = () => {
    running ??= sender.run(abort.signal);
  };
  if (!opts.paused) start();
  t.after(async () => {
    abort.abort();
    await running;
    await buffer.close();
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { hub, buffer, sender, start };
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (let i = 0; i < timeoutMs / 10 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test('batches go gzipped over mTLS, are resent with the same id after failures and a lost ack, and arrive once', async (t) => {
  // The sender starts once everything is written: a batch keeps its contents until acknowledged, so one
  // cut while this test was still appending would pin an order the test did not mean to check.
  const { hub, buffer, sender, start } = await setup(t, { paused: true });
  hub.modes.push('unavailable', 'unavailable', 'loseAck');
  for (let i = 0; i < 200; i++)
    await buffer.append(i % 2 ? 'metric' : 'sli', {
      class: i % 2 ? 'metric' : 'sli',
      name: 'requests_total',
      bundle: 'pos',
      t: 1_700_000_000_000 + i,
      d: 30_000,
      v: i,
    });
  await buffer.append('event', {
    t: 1_700_000_000_000,
    type: 'Warning',
    object: 'Pod pos/till-0',
    reason: 'BackOff',
    message: 'restarting',
  });
  start();
  await until('everything sent', () => buffer.stats().bytes === 0 && sender.stats().batchesSent > 0);

  const first = hub.requests.slice(0, 4).map((r) => r.batchId);
  assert.equal(new Set(first).size, 1, 'the same batch, with the same id, until acknowledged');
  assert.ok(
    hub.requests.every((r) => r.encoding === 'gzip' && r.path === '/agent/v1/sites/site-1/telemetry'),
  );
  const values = [...hub.batches.values()].flatMap((b) => b.samples.map((s) => s.v));
  assert.deepEqual(
    [...values].sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i),
  );
  // SLIs before events before metrics: in delivery order, no class comes before a higher one is done
  const sequence = [...hub.batches.values()].flatMap((b) => [
    ...b.samples.filter((s) => s.class === 'sli').map(() => 0),
    ...b.events.map(() => 1),
    ...b.samples.filter((s) => s.class === 'metric').map(() => 2),
  ]);
  assert.deepEqual(
    sequence,
    [...sequence].sort((a, b) => a - b),
  );
  assert.ok(hub.batches.size > 1, 'more than one batch');
  assert.ok(sender.stats().bytesSent < sender.stats().rawBytesSent, 'compressed on the wire');
  assert.equal(sender.stats().lastError, null);
});

test('a batch the hub calls invalid is dropped and counted, and the uplink goes on', async (t) => {
  const { hub, buffer, sender } = await setup(t);
  hub.modes.push('invalid');
  await buffer.append('sli', { class: 'sli', name: 'saturation', bundle: 'pos', t: 1, v: 0.5 });
  sender.wake();
  await until('the refusal', () => sender.stats().refused === 1);
  await buffer.append('sli', { class: 'sli', name: 'saturation', bundle: 'pos', t: 2, v: 0.6 });
  sender.wake();
  await until('the next batch', () => hub.batches.size === 1);
  const [batch] = [...hub.batches.values()];
  assert.deepEqual(
    batch!.dropped,
    { sli: 1, event: 0, metric: 0, debug: 0 },
    'the drop is reported upstream',
  );
  assert.match(buffer.stats().problems.at(-1)!.message, /refused telemetry batch .*bad sample/);
});

test('a 400 for a batch that keeps the contract (a hub that cannot read it yet) drops nothing; it goes later', async (t) => {
  const { hub, buffer, sender } = await setup(t);
  hub.modes.push('unreadable', 'unreadable');
  await buffer.append('event', {
    t: 1,
    type: 'Normal',
    object: 'Pod pos/till-0',
    reason: 'Started',
    message: 'started',
  });
  sender.wake();
  await until('delivery after the hub could read it', () => hub.batches.size === 1);
  assert.equal(hub.requests.length, 3);
  assert.equal(sender.stats().refused, 0);
  assert.deepEqual(buffer.stats().dropped, { sli: 0, event: 0, metric: 0, debug: 0 });
});

test('a day of telemetry buffered through an outage reaches the hub once and in order when the link returns', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-outage-'));
  const hub = await telemetryReceiver();
  hub.down = true;
  const buffer = await TelemetryBuffer.open(dir); // the default 64 MiB budget and batch size
  const abort = new AbortController();
  const sender = new TelemetrySender(
    buffer,
    { send: (gz, signal) => hub.client.telemetry(gz, signal) },
    { flushMs: 50, backoffBaseMs: 20, backoffMaxMs: 100 },
  );
  const running = sender.run(abort.signal);
  t.after(async () => {
    abort.abort();
    await running;
    await buffer.close();
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });
  // simulated time: 24 h of 3 bundles × 5 SLIs every 30 s and an event a minute, while every send fails
  const start = Date.parse('2026-11-20T00:00:00Z');
  let sli = 0;
  let event = 0;
  for (let at = start; at < start + 24 * 3600_000; at += 30_000) {
    for (const bundle of ['pos', 'kiosk', 'scale'])
      for (const name of [
        'requests_total',
        'errors_total',
        'slow_requests_total',
        'latency_p99_seconds',
        'saturation',
      ])
        await buffer.append('sli', { class: 'sli', name, bundle, t: at, d: 30_000, v: sli++ });
    if ((at - start) % 60_000 === 0)
      await buffer.append('event', {
        t: at,
        type: 'Warning',
        object: 'Pod pos/till-0',
        reason: 'BackOff',
        message: String(event++),
      });
  }
  assert.ok(sender.stats().lastError, 'the link was down');
  assert.equal(hub.batches.size, 0);
  hub.down = false;
  sender.hubBack();
  await until('everything delivered', () => buffer.stats().bytes === 0, 60_000);
  const batches = [...hub.batches.values()];
  assert.deepEqual(
    batches.flatMap((b) => b.samples.map((s) => s.v)),
    Array.from({ length: sli }, (_, i) => i),
    'every SLI once, in order',
  );
  assert.deepEqual(
    batches.flatMap((b) => b.events.map((e) => Number(e.message))),
    Array.from({ length: event }, (_, i) => i),
  );
  assert.deepEqual(batches.at(-1)!.dropped, { sli: 0, event: 0, metric: 0, debug: 0 });
});
