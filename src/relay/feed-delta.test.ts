import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FeedSite, RelayFeed } from '../model/relay-wire.ts';
import { applyFeedDelta } from './feed-delta.ts';

const site = (id: string, digest: string, serials = [`${id}-1`]): FeedSite => ({
  id,
  name: id,
  digest,
  serials,
});

const held: RelayFeed = {
  digest: 'sha256:held',
  sites: [site('a', 'd1'), site('b', 'd1'), site('c', 'd1')],
  work: ['a'],
  cursor: 'x.1',
};

test('a delta replaces the changed sites, drops the removed ones and adds those new to the scope', () => {
  const after = applyFeedDelta(held, {
    digest: 'sha256:delta',
    sites: [site('b', 'd2', ['b-2']), site('d', 'd2')],
    removed: ['c'],
    work: [],
    delta: true,
    cursor: 'x.2',
  });
  assert.deepEqual(
    after.sites.map((s) => [s.id, s.digest, s.serials]),
    [
      ['a', 'd1', ['a-1']],
      ['b', 'd2', ['b-2']],
      ['d', 'd2', ['d-1']],
    ],
  );
  assert.deepEqual(after.work, []);
  assert.equal(after.cursor, 'x.2');
  assert.equal(held.sites.length, 3, 'the held feed is left as it was');
});

test('an empty delta keeps every site and takes the new cursor and work', () => {
  const after = applyFeedDelta(held, {
    digest: 'sha256:empty',
    sites: [],
    removed: [],
    work: ['b'],
    delta: true,
    cursor: 'x.3',
  });
  assert.deepEqual(
    after.sites.map((s) => s.id),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(after.work, ['b']);
  assert.equal(after.cursor, 'x.3');
});

test('a site removed and re-added in one delta is held with its new entry', () => {
  const after = applyFeedDelta(held, {
    digest: 'sha256:d',
    sites: [site('c', 'd3')],
    removed: ['c'],
    work: [],
    delta: true,
    cursor: 'x.4',
  });
  assert.equal(after.sites.find((s) => s.id === 'c')?.digest, 'd3');
});
