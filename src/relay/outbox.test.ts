import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RelayOutbox } from './outbox.ts';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'relay-outbox-'));
}

test('items survive a reopen and leave only when removed', async () => {
  const dir = await scratch();
  try {
    const first = new RelayOutbox(dir, 1024 * 1024);
    first.add([
      { siteId: 's1', kind: 'report', body: '{"seq":1}' },
      { siteId: 's1', kind: 'report', body: '{"seq":2}' },
    ]);
    first.close();
    const again = new RelayOutbox(dir, 1024 * 1024);
    const items = again.oldest(10, 1024);
    assert.deepEqual(
      items.map((i) => i.body),
      ['{"seq":1}', '{"seq":2}'],
    );
    again.remove([items[0]!.id]);
    assert.deepEqual(again.stats(), { pending: 1, bytes: 9, dropped: 0 });
    again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('past the byte budget the oldest items are dropped and counted, across a reopen', async () => {
  const dir = await scratch();
  try {
    const outbox = new RelayOutbox(dir, 100);
    for (let seq = 1; seq <= 10; seq++) {
      outbox.add([{ siteId: 's1', kind: 'report', body: JSON.stringify({ seq, pad: 'x'.repeat(20) }) }]);
    }
    const kept = outbox.oldest(100, 10_000).map((i) => JSON.parse(i.body).seq);
    assert.ok(outbox.stats().bytes <= 100);
    assert.equal(outbox.stats().dropped + kept.length, 10);
    assert.deepEqual(
      kept,
      Array.from({ length: kept.length }, (_, i) => 10 - kept.length + 1 + i),
      'the newest stay',
    );
    outbox.close();
    assert.equal(new RelayOutbox(dir, 100).stats().dropped, 10 - kept.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('adding says which items the budget pushed out, a new one included, so their reports are not relied on', async () => {
  const dir = await scratch();
  try {
    const outbox = new RelayOutbox(dir, 60);
    const first = outbox.add([
      { siteId: 's1', kind: 'report', body: JSON.stringify({ seq: 1, pad: 'x'.repeat(30) }) },
    ]);
    assert.deepEqual(first.dropped, []);
    const second = outbox.add([
      { siteId: 's2', kind: 'report', body: JSON.stringify({ seq: 1, pad: 'y'.repeat(30) }) },
    ]);
    assert.deepEqual(second.dropped, [{ id: first.ids[0], siteId: 's1' }]);
    const huge = outbox.add([
      { siteId: 's3', kind: 'report', body: JSON.stringify({ seq: 1, pad: 'z'.repeat(100) }) },
    ]);
    assert.deepEqual(
      huge.dropped.map((d) => d.siteId),
      ['s2', 's3'],
      'an item over the whole budget does not stay',
    );
    assert.deepEqual(outbox.stats(), { pending: 0, bytes: 0, dropped: 3 });
    outbox.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
