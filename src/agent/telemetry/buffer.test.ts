import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type TelemetryClass,
  type TelemetryEvent,
  type TelemetrySample,
  telemetryClasses,
} from '../../model/telemetry.ts';
import { type OutgoingBatch, TelemetryBuffer } from './buffer.ts';
import { recordHeaderBytes } from './segment.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-telemetry-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A record that says which append it was (`id`), padded to vary its size. */
function itemOf(cls: TelemetryClass, id: number, pad = 0): TelemetrySample | TelemetryEvent {
  if (cls === 'event')
    return {
      t: id,
      type: 'Normal',
      object: 'Pod shop/till-0',
      reason: 'Test',
      message: `${id} ${'x'.repeat(pad)}`,
    };
  return { class: cls, name: 'probe', labels: { id: String(id), pad: 'x'.repeat(pad) }, t: id, v: id };
}

const idOf = (item: TelemetrySample | TelemetryEvent) => ('v' in item ? item.v : item.t);
const frameBytes = (item: unknown) => recordHeaderBytes + Buffer.byteLength(JSON.stringify(item));

/** The hub as far as the buffer can tell: ingests a batch once per batchId, answers resends with false. */
class Hub {
  readonly batches = new Map<string, string>();
  readonly delivered: Array<{ cls: TelemetryClass; id: number }> = [];

  ingest(batch: OutgoingBatch): boolean {
    const content = JSON.stringify([batch.samples, batch.events]);
    const seen = this.batches.get(batch.batchId);
    if (seen !== undefined) {
      assert.equal(content, seen, `batch ${batch.batchId} was resent with different content`);
      return false;
    }
    this.batches.set(batch.batchId, content);
    for (const s of batch.samples) this.delivered.push({ cls: s.class, id: idOf(s) });
    for (const e of batch.events) this.delivered.push({ cls: 'event', id: idOf(e) });
    return true;
  }
}

async function drain(buffer: TelemetryBuffer, hub: Hub): Promise<void> {
  for (let batch = await buffer.next(); batch; batch = await buffer.next()) {
    hub.ingest(batch);
    await buffer.ack(batch.batchId);
  }
}

type Command =
  | { kind: 'append'; cls: TelemetryClass; pad: number }
  | { kind: 'send'; outcome: 'ok' | 'fail' | 'ackLost' }
  | { kind: 'sync' }
  | { kind: 'restart' }
  | { kind: 'crash' };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      cls: fc.constantFrom(...telemetryClasses),
      pad: fc.integer({ min: 0, max: 120 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      outcome: fc.constantFrom('ok' as const, 'fail' as const, 'ackLost' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'sync' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
);

test('under random appends, sends, failures, restarts and crashes nothing is duplicated or lost uncounted, and drops go lowest class first', async (t) => {
  const root = await tempDir(t);
  let run = 0;
  let runsWithDrops = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(commandArb, { minLength: 20, maxLength: 150, size: 'large' }),
      fc.integer({ min: 800, max: 4000 }),
      async (commands, budget) => {
        const dir = join(root, String(run++));
        const opts = { budgetBytes: budget, segmentBytes: 400 };
        let buffer = await TelemetryBuffer.open(dir, opts);
        const hub = new Hub();
        const appended: Record<TelemetryClass, number[]> = { sli: [], event: [], metric: [], debug: [] };
        const frames = new Map<number, number>();
        let inflight: OutgoingBatch | undefined;
        /** bytes of everything appended and not acknowledged, while nothing was dropped yet */
        let live = 0;
        let nextId = 1;
        try {
          for (const c of commands) {
            if (c.kind === 'append') {
              const id = nextId++;
              const item = itemOf(c.cls, id, c.pad);
              frames.set(id, frameBytes(item));
              const before = buffer.stats();
              await buffer.append(c.cls, item);
              appended[c.cls].push(id);
              live += frameBytes(item);
              const after = buffer.stats();
              const droppedNow = telemetryClasses.filter((k) => after.dropped[k] > before.dropped[k]);
              const total = (s: typeof before) => telemetryClasses.reduce((n, k) => n + s.dropped[k], 0);
              if (total(before) === 0 && droppedNow.length > 0)
                assert.ok(live > budget, `dropped with ${live} bytes outstanding, budget ${budget}`);
              for (const k of droppedNow) {
                // never above the class of the record that needed the room
                assert.ok(
                  telemetryClasses.indexOf(k) >= telemetryClasses.indexOf(c.cls),
                  `${k} for ${c.cls}`,
                );
                // and only once every lower class was gone, but for the batch on the wire
                for (const lower of telemetryClasses.slice(telemetryClasses.indexOf(k) + 1)) {
                  const pinned = !inflight
                    ? 0
                    : lower === 'event'
                      ? inflight.events.length
                      : inflight.samples.filter((s) => s.class === lower).length;
                  assert.equal(after.classes[lower].records - pinned, 0, `${lower} left while ${k} dropped`);
                }
              }
              assert.ok(after.bytes <= budget + opts.segmentBytes, `${after.bytes} bytes on disk`);
            } else if (c.kind === 'send') {
              const batch = await buffer.next();
              if (!batch) continue;
              if (inflight)
                assert.equal(batch.batchId, inflight.batchId, 'a batch on the wire is resent first');
              inflight = batch;
              if (c.outcome === 'fail') continue;
              hub.ingest(batch);
              if (c.outcome === 'ackLost') continue;
              await buffer.ack(batch.batchId);
              for (const item of [...batch.samples, ...batch.events]) live -= frames.get(idOf(item))!;
              inflight = undefined;
            } else if (c.kind === 'sync') {
              await buffer.sync();
            } else {
              if (c.kind === 'restart') await buffer.close();
              else await buffer.abandon();
              buffer = await TelemetryBuffer.open(dir, opts);
            }
          }
          await drain(buffer, hub);
          const dropped = buffer.stats().dropped;
          if (telemetryClasses.some((k) => dropped[k] > 0)) runsWithDrops++;
          const seen = new Set<number>();
          for (const d of hub.delivered) {
            assert.ok(!seen.has(d.id), `record ${d.id} delivered twice`);
            seen.add(d.id);
          }
          for (const cls of telemetryClasses) {
            const got = hub.delivered.filter((d) => d.cls === cls).map((d) => d.id);
            assert.deepEqual(
              got,
              [...got].sort((a, b) => a - b),
              `${cls} delivered out of order`,
            );
            assert.equal(got.length + dropped[cls], appended[cls].length, `${cls}: delivered + dropped`);
            assert.ok(got.every((id) => appended[cls].includes(id)));
          }
          assert.equal(buffer.stats().bytes, 0);
        } finally {
          await buffer.close().catch(() => undefined);
        }
      },
    ),
    { numRuns: 80 },
  );
  // the runs must put the buffer under pressure, or the drop properties were never tested
  assert.ok(runsWithDrops >= 20, `only ${runsWithDrops} runs dropped anything`);
});

test('a 24-hour outage within the budget delivers every sample and event once, in order per class', async (t) => {
  const dir = await tempDir(t);
  const buffer = await TelemetryBuffer.open(dir); // the default 64 MiB budget
  const start = Date.parse('2026-11-20T00:00:00Z');
  const appended: Record<TelemetryClass, number> = { sli: 0, event: 0, metric: 0, debug: 0 };
  // Three bundles × five golden signals every 30 s, 20 agent metrics a minute, an event a minute.
  for (let t = start; t < start + 24 * 3600_000; t += 30_000) {
    for (const bundle of ['pos', 'kiosk', 'scale'])
      for (const name of [
        'requests_total',
        'errors_total',
        'slow_requests_total',
        'latency_p99_seconds',
        'saturation',
      ]) {
        await buffer.append('sli', { class: 'sli', name, bundle, t, d: 30_000, v: appended.sli++ });
      }
    if ((t - start) % 60_000 === 0) {
      for (let i = 0; i < 20; i++)
        await buffer.append('metric', {
          class: 'metric',
          name: `outpost_agent_metric_${i}`,
          t,
          v: appended.metric++,
        });
      await buffer.append('event', {
        t: appended.event++,
        bundle: 'pos',
        type: 'Warning',
        object: 'Pod pos/till-7d9f',
        reason: 'BackOff',
        message: 'Back-off restarting failed container till in pod till-7d9f_pos',
        count: 3,
      });
    }
    if ((t - start) % 300_000 === 0) await buffer.sync();
  }
  const onDisk = buffer.stats().bytes;
  assert.ok(onDisk < 64 * 1024 * 1024, `${onDisk} bytes`);
  await buffer.close();

  // reconnect after a restart
  const reopened = await TelemetryBuffer.open(dir);
  const hub = new Hub();
  await drain(reopened, hub);
  assert.deepEqual(reopened.stats().dropped, { sli: 0, event: 0, metric: 0, debug: 0 });
  for (const cls of telemetryClasses) {
    const ids = hub.delivered.filter((d) => d.cls === cls).map((d) => d.id);
    assert.deepEqual(
      ids,
      Array.from({ length: appended[cls] }, (_, i) => i),
      `${cls}: every record once, in order`,
    );
  }
  assert.equal(appended.sli, 3 * 5 * 2880);
  // highest class first
  const firstMetric = hub.delivered.findIndex((d) => d.cls === 'metric');
  assert.ok(hub.delivered.slice(firstMetric).every((d) => d.cls !== 'sli'));
  await reopened.close();
});

test('a batch acknowledged before a restart is not sent again; one on the wire is resent with its id', async (t) => {
  const dir = await tempDir(t);
  let buffer = await TelemetryBuffer.open(dir, { segmentBytes: 400, maxBatchBytes: 400 });
  for (let i = 1; i <= 10; i++) await buffer.append('metric', itemOf('metric', i));
  const first = (await buffer.next())!;
  await buffer.ack(first.batchId);
  const second = (await buffer.next())!;
  assert.notEqual(second.batchId, first.batchId);
  await buffer.abandon(); // killed with the second batch on the wire
  buffer = await TelemetryBuffer.open(dir, { segmentBytes: 400, maxBatchBytes: 400 });
  await buffer.append('sli', itemOf('sli', 11)); // higher class, but the batch on the wire goes first
  const again = (await buffer.next())!;
  assert.equal(again.batchId, second.batchId);
  assert.deepEqual(again.samples, second.samples);
  const hub = new Hub();
  hub.ingest(again);
  await buffer.ack(again.batchId);
  await drain(buffer, hub);
  const ids = hub.delivered.map((d) => d.id);
  assert.ok(!ids.some((id) => first.samples.some((s) => s.v === id)), 'nothing of the acked batch again');
  assert.equal(ids.length + first.samples.length, 11);
  await buffer.close();
});

test('a damaged segment is skipped past: the records it lost are counted and reported, the rest delivered', async (t) => {
  const dir = await tempDir(t);
  let buffer = await TelemetryBuffer.open(dir, { segmentBytes: 2000 });
  for (let i = 1; i <= 60; i++) await buffer.append('metric', itemOf('metric', i));
  await buffer.close();
  const sealed = (await readdir(dir)).filter((f) => f.startsWith('metric.')).sort();
  // every file is 'metric.<no>.open' after a close; reopen seals them
  buffer = await TelemetryBuffer.open(dir, { segmentBytes: 2000 });
  await buffer.close();
  const files = (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort();
  assert.equal(files.length, sealed.length);
  const victim = join(dir, files[1]!);
  const data = await readFile(victim);
  const records = Number(files[1]!.split('.')[2]);
  // garbage over the middle third of the second segment
  const from = Math.floor(data.length / 3);
  const to = Math.floor((2 * data.length) / 3);
  data.fill(0x5a, from, to);
  await writeFile(victim, data);

  buffer = await TelemetryBuffer.open(dir, { segmentBytes: 2000 });
  const stats = buffer.stats();
  const lost = stats.corrupted.metric;
  assert.ok(lost > 0 && lost < records, `${lost} of ${records} lost`);
  assert.equal(stats.dropped.metric, lost);
  assert.match(stats.problems.at(-1)?.message ?? '', /damaged: \d+ metric record\(s\) lost/);
  const hub = new Hub();
  await drain(buffer, hub);
  const got = hub.delivered.filter((d) => d.cls === 'metric').map((d) => d.id);
  assert.equal(got.length, 60 - lost);
  assert.deepEqual(
    got,
    [...got].sort((a, b) => a - b),
  );
  const warning = hub.delivered.find((d) => d.cls === 'event');
  assert.ok(warning, 'a Warning event goes upstream');
  const batches = [...hub.batches.values()].map(
    (b) => JSON.parse(b) as [TelemetrySample[], TelemetryEvent[]],
  );
  const event = batches.flatMap((b) => b[1]).find((e) => e.reason === 'TelemetryBufferCorrupted');
  assert.equal(event?.type, 'Warning');
  // counted once: reopening does not count the same damage again
  await buffer.close();
  const again = await TelemetryBuffer.open(dir, { segmentBytes: 2000 });
  assert.equal(again.stats().corrupted.metric, lost);
  await again.close();
});

test('a record cut off by a crash at the end of a segment is discarded with a report; the rest stays', async (t) => {
  const dir = await tempDir(t);
  const buffer = await TelemetryBuffer.open(dir);
  for (let i = 1; i <= 5; i++) await buffer.append('sli', itemOf('sli', i));
  await buffer.abandon();
  const [open] = (await readdir(dir)).filter((f) => f.endsWith('.open'));
  const path = join(dir, open!);
  const size = (await readFile(path)).length;
  await truncate(path, size - 7); // the last write was torn
  const reopened = await TelemetryBuffer.open(dir);
  assert.match(reopened.stats().problems[0]?.message ?? '', /discarded \d+ bytes of an incomplete record/);
  const hub = new Hub();
  await drain(reopened, hub);
  assert.deepEqual(
    hub.delivered.map((d) => d.id),
    [1, 2, 3, 4],
  );
  await reopened.close();
});

test('with the budget full, a lower class is dropped to make room and the record of the lowest class is not kept over a higher one', async (t) => {
  const dir = await tempDir(t);
  const buffer = await TelemetryBuffer.open(dir, { budgetBytes: 3000, segmentBytes: 600 });
  for (let i = 1; i <= 20; i++) await buffer.append('debug', itemOf('debug', i));
  for (let i = 21; i <= 40; i++) await buffer.append('sli', itemOf('sli', i));
  const s = buffer.stats();
  assert.ok(s.dropped.debug > 0);
  assert.equal(s.dropped.sli, 0);
  assert.ok(s.bytes <= 3000);
  // the buffer now holds SLIs only: a debug record has no room and is itself dropped
  const before = buffer.stats();
  if (before.classes.debug.records === 0 && before.bytes + 100 > 3000) {
    await buffer.append('debug', itemOf('debug', 41));
    assert.equal(buffer.stats().dropped.debug, before.dropped.debug + 1);
    assert.equal(buffer.stats().classes.sli.records, before.classes.sli.records);
  }
  await buffer.close();
});

test('a full disk is treated as a full buffer: the lowest class goes, every loss is counted, status says why', async (t) => {
  // A real full disk: a 256 KiB tmpfs. Mounting needs root; elsewhere the test says so and skips.
  const dir = await mkdtemp(join(tmpdir(), 'outpost-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    await rm(dir, { recursive: true, force: true });
    t.skip('mounting a small tmpfs needs root');
    return;
  }
  t.after(async () => {
    execFileSync('umount', ['-l', dir]); // lazy: a failed test may leave the buffer's files open
    await rm(dir, { recursive: true, force: true });
  });
  const buffer = await TelemetryBuffer.open(dir, { segmentBytes: 16 * 1024 }); // budget 64 MiB ≫ disk
  const appended: Record<TelemetryClass, number> = { sli: 0, event: 0, metric: 0, debug: 0 };
  let id = 1;
  for (let i = 0; i < 3000; i++) {
    const cls: TelemetryClass = i % 3 === 0 ? 'sli' : i % 3 === 1 ? 'metric' : 'debug';
    await buffer.append(cls, itemOf(cls, id++, 60));
    appended[cls]++;
  }
  const s = buffer.stats();
  assert.ok(s.lastDiskFull, 'the full disk shows in the status');
  assert.match(s.problems.map((p) => p.message).join('\n'), /disk is full/);
  assert.ok(s.dropped.debug > 0);
  assert.equal(s.dropped.sli, 0, 'SLIs kept while lower classes could go');
  const hub = new Hub();
  await drain(buffer, hub);
  const final = buffer.stats().dropped;
  for (const cls of ['sli', 'metric', 'debug'] as const)
    assert.equal(hub.delivered.filter((d) => d.cls === cls).length + final[cls], appended[cls], cls);
  const events = [...hub.batches.values()].flatMap((b) => (JSON.parse(b) as [unknown, TelemetryEvent[]])[1]);
  assert.ok(
    events.some((e) => e.reason === 'TelemetryDiskFull' && e.type === 'Warning'),
    'a Warning event goes upstream',
  );
  await buffer.close();
});

test('an unreadable send cursor loses no segment: everything is kept, sent, and the loss of the cursor reported', async (t) => {
  const dir = await tempDir(t);
  const buffer = await TelemetryBuffer.open(dir);
  for (let i = 1; i <= 3; i++) await buffer.append('metric', itemOf('metric', i));
  await buffer.close();
  await writeFile(join(dir, 'cursor.json'), '{"epoch": "ab", "clas');
  const reopened = await TelemetryBuffer.open(dir);
  assert.match(reopened.stats().problems[0]!.message, /send cursor was unreadable/);
  const hub = new Hub();
  await drain(reopened, hub);
  assert.deepEqual(
    hub.delivered.filter((d) => d.cls === 'metric').map((d) => d.id),
    [1, 2, 3],
  );
  assert.ok(
    hub.delivered.some((d) => d.cls === 'event'),
    'a Warning event says so upstream',
  );
  await reopened.close();
});
