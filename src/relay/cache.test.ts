import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import type { RelayFeed } from '../model/relay-wire.ts';
import type { DesiredState } from '../model/wire.ts';
import { sha256Digest } from '../render/digest.ts';
import { RelayCache } from './cache.ts';
import { applyFeedDelta } from './feed-delta.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-relay-cache-'));
  dirs.push(dir);
  return dir;
}

const blob = JSON.stringify({ objects: [] });
const blobDigest = sha256Digest(blob);
const state = (site: string, n: number): DesiredState => ({
  site,
  digest: `sha256:${String(n).padStart(64, '0')}`,
  deployments: [{ bundle: 'web', revision: n, digest: blobDigest }],
  signature: 'sig',
});
const feed = (sites: string[]): RelayFeed => ({
  digest: `sha256:${'f'.repeat(64)}`,
  sites: sites.map((id, i) => ({ id, name: id, digest: state(id, 1).digest, serials: [`0${i}`] })),
});

test('saved states are served once committed with the feed, as the exact JSON, and again after a restart', async () => {
  const dir = await stateDir();
  const cache = await RelayCache.open(dir);
  await cache.saveBlob(blobDigest, blob);
  assert.equal(cache.hasBlob(blobDigest), true, 'a blob waiting for its commit is not fetched again');
  await cache.saveDesired('site-a', state('site-a', 1));
  await cache.saveDesired('site-b', state('site-b', 1));
  assert.equal(cache.desired('site-a'), undefined, 'nothing is served before it is on disk');
  await cache.saveFeed(feed(['site-a', 'site-b']));
  assert.equal(cache.desired('site-a')?.json, JSON.stringify(state('site-a', 1)));
  assert.equal(cache.desired('site-b')?.digest, state('site-b', 1).digest);
  assert.equal(cache.siteBySerial('01')?.id, 'site-b');
  cache.close();

  const again = await RelayCache.open(dir);
  assert.equal(again.desired('site-a')?.json, JSON.stringify(state('site-a', 1)));
  assert.equal(again.siteBySerial('00')?.id, 'site-a');
  assert.equal(await again.blob(blobDigest), blob);
  assert.deepEqual(await readdir(dir), ['cache.sqlite', 'cache.sqlite-shm', 'cache.sqlite-wal']);
  again.close();
});

test('a save the feed never follows (the hub went away mid-way) is committed after a moment', async () => {
  const dir = await stateDir();
  const cache = await RelayCache.open(dir);
  await cache.saveDesired('site-a', state('site-a', 2));
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(cache.desired('site-a')?.digest, state('site-a', 2).digest);
  cache.close();
  const again = await RelayCache.open(dir);
  assert.equal(again.desired('site-a')?.digest, state('site-a', 2).digest);
  assert.equal(again.feed, undefined);
  again.close();
});

test('a state directory from before the SQLite cache is moved in once, its files removed', async () => {
  const dir = await stateDir();
  await mkdir(join(dir, 'desired'));
  await mkdir(join(dir, 'blobs'));
  await writeFile(join(dir, 'feed.json'), JSON.stringify(feed(['site/a'])));
  await writeFile(
    join(dir, 'desired', `${encodeURIComponent('site/a')}.json`),
    JSON.stringify(state('site/a', 3)),
  );
  await writeFile(join(dir, 'blobs', blobDigest.slice('sha256:'.length)), blob);
  await writeFile(join(dir, 'identity.json'), '{}');

  const cache = await RelayCache.open(dir);
  assert.equal(cache.desired('site/a')?.json, JSON.stringify(state('site/a', 3)));
  assert.equal(cache.siteBySerial('00')?.id, 'site/a');
  assert.equal(await cache.blob(blobDigest), blob);
  assert.deepEqual(
    (await readdir(dir)).filter((f) => !f.startsWith('cache.sqlite')),
    ['identity.json'],
    'the old files are gone; what is not the cache stays',
  );
  cache.close();
  const again = await RelayCache.open(dir);
  assert.equal(again.desired('site/a')?.digest, state('site/a', 3).digest);
  again.close();
});

test('a blob the cache does not hold is a clear error', async () => {
  const cache = await RelayCache.open(await stateDir());
  await assert.rejects(cache.blob(`sha256:${'0'.repeat(64)}`), /holds no blob/);
  cache.close();
});

test('a site that leaves the feed leaves the cache: its serial and its desired state, after a restart too', async () => {
  const dir = await stateDir();
  const cache = await RelayCache.open(dir);
  await cache.saveBlob(blobDigest, blob);
  for (const id of ['site-a', 'site-b']) await cache.saveDesired(id, state(id, 1));
  await cache.saveFeed({ ...feed(['site-a', 'site-b']), cursor: 'c.1' });
  assert.ok(cache.desired('site-b'));
  await cache.saveFeed({ ...feed(['site-a']), cursor: 'c.2' });
  assert.equal(cache.desired('site-b'), undefined);
  assert.equal(cache.siteBySerial('01'), undefined, 'site-b’s serial');
  assert.ok(cache.desired('site-a'));
  cache.close();
  const reopened = await RelayCache.open(dir);
  assert.equal(reopened.desired('site-b'), undefined);
  assert.equal(reopened.feed?.cursor, 'c.2', 'the cursor is kept to resume with');
  reopened.close();
});

test('a delta writes only the sites it changed and removed; the rest of the held list stays as written', async () => {
  const dir = await stateDir();
  const cache = await RelayCache.open(dir);
  const whole = { ...feed(['site-a', 'site-b', 'site-c']), cursor: 'c.1' };
  await cache.saveFeed(whole);
  // a mark on site-a's row that only a rewrite of the whole list would erase
  const side = new DatabaseSync(join(dir, 'cache.sqlite'));
  const marked = { ...whole.sites[0]!, name: 'marked' };
  side.prepare('update feed_sites set json = ? where site_id = ?').run(JSON.stringify(marked), 'site-a');
  const delta: RelayFeed = {
    digest: `sha256:${'d'.repeat(64)}`,
    sites: [{ id: 'site-b', name: 'site-b', digest: state('site-b', 2).digest, serials: ['09'] }],
    removed: ['site-c'],
    work: ['site-b'],
    delta: true,
    cursor: 'c.2',
  };
  await cache.saveFeed(applyFeedDelta(cache.feed!, delta), delta);
  assert.equal(cache.siteBySerial('01'), undefined, 'site-b’s old serial');
  assert.equal(cache.siteBySerial('09')?.id, 'site-b');
  assert.equal(cache.siteBySerial('02'), undefined, 'removed site-c’s serial');
  assert.equal(cache.siteBySerial('00')?.id, 'site-a');
  assert.deepEqual(
    side
      .prepare('select site_id from feed_sites order by site_id')
      .all()
      .map((r) => r.site_id),
    ['site-a', 'site-b'],
  );
  side.close();
  cache.close();

  const again = await RelayCache.open(dir);
  assert.deepEqual(again.feed?.sites, [marked, delta.sites[0]]);
  assert.equal(again.feed?.cursor, 'c.2');
  assert.deepEqual(again.feed?.work, ['site-b']);
  assert.equal(again.siteBySerial('09')?.id, 'site-b');
  again.close();
});

test('a cache whose feed row holds the whole list (before one row a site) is read and moved out once', async () => {
  const dir = await stateDir();
  const db = new DatabaseSync(join(dir, 'cache.sqlite'));
  db.exec('create table feed (id integer primary key check (id = 1), json text not null)');
  db.prepare('insert into feed (id, json) values (1, ?)').run(
    JSON.stringify({ ...feed(['site-a']), cursor: 'c.7' }),
  );
  db.close();
  const cache = await RelayCache.open(dir);
  assert.equal(cache.siteBySerial('00')?.id, 'site-a');
  assert.equal(cache.feed?.cursor, 'c.7');
  cache.close();
  const again = await RelayCache.open(dir);
  assert.deepEqual(again.feed?.sites, feed(['site-a']).sites);
  again.close();
});

test('a timed commit that fails is logged, and its saves are committed by the next one', async () => {
  const dir = await stateDir();
  const logged: { message: string; fields?: Record<string, unknown> }[] = [];
  const cache = await RelayCache.open(dir, (message, fields) => logged.push({ message, fields }));
  // another writer holds the file: the timer's commit finds the database locked
  const other = new DatabaseSync(join(dir, 'cache.sqlite'));
  other.exec('begin exclusive');
  await cache.saveDesired('site-a', state('site-a', 4));
  for (let i = 0; i < 100 && logged.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(logged[0]!.message, /relay cache commit failed/);
  assert.match(String(logged[0]!.fields?.error), /locked/);
  assert.equal(logged[0]!.fields?.desired, 1);
  assert.equal(cache.desired('site-a'), undefined, 'nothing is served that is not on disk');
  other.exec('rollback');
  other.close();
  await cache.saveFeed(feed(['site-a']));
  assert.equal(cache.desired('site-a')?.digest, state('site-a', 4).digest);
  cache.close();
});
