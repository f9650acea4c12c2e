import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { Outbox } from './outbox.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outpost-outbox-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const report = (bundle: string) => ({
  deployments: [
    {
      bundle,
      digest: `sha256:${'a'.repeat(64)}`,
      state: 'Ready' as const,
      counts: { total: 1, applied: 1, ready: 1 },
    },
  ],
});

test('reports get increasing sequence numbers and leave in order, one ack at a time', async () => {
  const outbox = await Outbox.open(dir);
  assert.equal(await outbox.enqueue(report('a')), 1);
  assert.equal(await outbox.enqueue(report('b')), 2);
  const first = await outbox.oldest();
  assert.equal(first?.seq, 1);
  assert.equal(first?.deployments[0]?.bundle, 'a');
  await outbox.ack(1);
  assert.equal((await outbox.oldest())?.seq, 2);
  await outbox.ack(2);
  assert.equal(await outbox.oldest(), undefined);
  assert.deepEqual({ ...outbox.stats(), bytes: 0 }, { pending: 0, bytes: 0, dropped: 0, nextSeq: 3 });
});

test('what is waiting, and the sequence, survive a restart', async () => {
  const before = await Outbox.open(dir);
  await before.enqueue(report('a'));
  await before.enqueue(report('b'));
  await before.ack(1);
  const after = await Outbox.open(dir);
  assert.equal(after.stats().pending, 1);
  assert.equal((await after.oldest())?.seq, 2);
  assert.equal(await after.enqueue(report('c')), 3);
});

test('a sequence number is never reused, even when every report was acked before a restart', async () => {
  const before = await Outbox.open(dir);
  await before.enqueue(report('a'));
  await before.ack(1);
  const after = await Outbox.open(dir);
  assert.equal(await after.enqueue(report('b')), 2);
});

test('a report written just before a crash that lost the counter still counts', async () => {
  const before = await Outbox.open(dir);
  await before.enqueue(report('a'));
  await writeFile(join(dir, 'report-seq.json'), JSON.stringify({ seq: 0, dropped: 0 }));
  const after = await Outbox.open(dir);
  assert.equal(await after.enqueue(report('b')), 2);
});

test('a full outbox drops the oldest reports and counts them', async () => {
  const outbox = await Outbox.open(dir, { maxReports: 3, maxBytes: 1024 * 1024 });
  for (const b of ['a', 'b', 'c', 'd', 'e']) await outbox.enqueue(report(b));
  assert.equal(outbox.stats().pending, 3);
  assert.equal(outbox.stats().dropped, 2);
  assert.equal((await outbox.oldest())?.seq, 3);
  assert.equal((await readdir(join(dir, 'outbox'))).length, 3);
  assert.equal((await Outbox.open(dir)).stats().dropped, 2, 'the count is kept on disk');
});

test('the byte budget bounds the outbox too, but the newest report is always kept', async () => {
  const outbox = await Outbox.open(dir, { maxReports: 100, maxBytes: 10 });
  await outbox.enqueue(report('a'));
  await outbox.enqueue(report('b'));
  assert.equal(outbox.stats().pending, 1);
  assert.equal((await outbox.oldest())?.deployments[0]?.bundle, 'b');
});

test('after the hub says it has seen higher numbers, new reports continue above them', async () => {
  const outbox = await Outbox.open(dir);
  await outbox.enqueue(report('a'));
  await outbox.continueAfter(500);
  assert.equal(await outbox.enqueue(report('b')), 501);
  await outbox.continueAfter(3);
  assert.equal(await outbox.enqueue(report('c')), 502, 'never goes back');
});

test('a report the hub refuses for good is dropped and counted', async () => {
  const outbox = await Outbox.open(dir);
  await outbox.enqueue(report('a'));
  await outbox.drop(1);
  assert.deepEqual([outbox.stats().pending, outbox.stats().dropped], [0, 1]);
});
