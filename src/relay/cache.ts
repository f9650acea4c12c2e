// The relay's content-addressed cache on disk: the change feed's last answer (the sites it serves and
// their certificates, one row a site, so a delta writes only the sites it changes), each site's signed
// desired state, and the blobs they name, in one SQLite file. It is what the relay serves from, so its
// sites keep their desired state while the hub is out of reach.

import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { readJson } from '../agent/state/local-state.ts';
import type { FeedSite, RelayFeed } from '../model/relay-wire.ts';
import type { DesiredState } from '../model/wire.ts';

/** A site's desired state as the relay holds it: the JSON text it serves, made once when stored. */
export interface CachedDesired {
  digest: string;
  /** the signed state as JSON, sent to the site as it is */
  json: string;
}

/** Saves waiting past this many are committed at once rather than with the feed or the timer. */
const groupLimit = 1000;
/** Saves waiting longer than this are committed even if the feed has not come (the hub went away). */
const groupMaxDelayMs = 200;

type Log = (message: string, fields?: Record<string, unknown>) => void;

/** What a feed commit writes: the whole list, or (a delta) only the sites it changed and removed. */
type FeedWrite = { feed: RelayFeed; sites: readonly FeedSite[]; removed: readonly string[]; whole: boolean };

export class RelayCache {
  readonly #db: DatabaseSync;
  readonly #log: Log | undefined;
  #feed: RelayFeed | undefined;
  #bySerial = new Map<string, FeedSite>();
  /** committed states only: what the relay serves is on disk */
  readonly #desired = new Map<string, CachedDesired>();
  /** stored and waiting blobs: a blob waiting for its commit is not fetched again */
  readonly #blobs = new Set<string>();
  #waitingDesired = new Map<string, CachedDesired>();
  #waitingBlobs = new Map<string, string>();
  #commitTimer: NodeJS.Timeout | undefined;
  readonly #putDesired: StatementSync;
  readonly #putBlob: StatementSync;
  readonly #getBlob: StatementSync;
  readonly #putFeed: StatementSync;
  readonly #putFeedSite: StatementSync;
  readonly #dropFeedSite: StatementSync;
  readonly #dropDesired: StatementSync;

  private constructor(dir: string, log: Log | undefined) {
    this.#log = log;
    this.#db = new DatabaseSync(join(dir, 'cache.sqlite'));
    this.#db.exec(`
      pragma journal_mode = wal;
      pragma synchronous = full;
      create table if not exists desired (site_id text primary key, digest text not null, json text not null);
      create table if not exists blobs (digest text primary key, body text not null);
      create table if not exists feed (id integer primary key check (id = 1), json text not null);
      create table if not exists feed_sites (site_id text primary key, json text not null);`);
    this.#putDesired = this.#db.prepare(
      'insert into desired (site_id, digest, json) values (?, ?, ?) on conflict (site_id) do update set digest = excluded.digest, json = excluded.json',
    );
    this.#putBlob = this.#db.prepare('insert into blobs (digest, body) values (?, ?) on conflict do nothing');
    this.#getBlob = this.#db.prepare('select body from blobs where digest = ?');
    this.#putFeed = this.#db.prepare(
      'insert into feed (id, json) values (1, ?) on conflict (id) do update set json = excluded.json',
    );
    this.#putFeedSite = this.#db.prepare(
      'insert into feed_sites (site_id, json) values (?, ?) on conflict (site_id) do update set json = excluded.json',
    );
    this.#dropFeedSite = this.#db.prepare('delete from feed_sites where site_id = ?');
    this.#dropDesired = this.#db.prepare('delete from desired where site_id = ?');
  }

  /**
   * Opens the cache in `dir` with what an earlier run saved. A state directory from before the SQLite
   * file (feed.json, desired/*.json, blobs/*) is moved into it once, then its files are removed. `log`
   * hears of a commit that failed with nobody waiting for it (the timer's).
   */
  static async open(dir: string, log?: Log): Promise<RelayCache> {
    const cache = new RelayCache(dir, log);
    await cache.#moveInFiles(dir);
    const row = cache.#db.prepare('select json from feed').get() as { json: string } | undefined;
    if (row) {
      const feed = JSON.parse(row.json) as RelayFeed;
      if (feed.sites?.length > 0) {
        // a cache from before one row a site held the list inside the feed's row: moved out once
        cache.#commit({ feed, sites: feed.sites, removed: [], whole: true });
      } else {
        const sites = cache.#db.prepare('select json from feed_sites order by site_id').all() as {
          json: string;
        }[];
        feed.sites = sites.map((s) => JSON.parse(s.json) as FeedSite);
      }
      cache.#setFeed(feed);
    }
    for (const row of cache.#db.prepare('select site_id, digest, json from desired').iterate() as Iterable<{
      site_id: string;
      digest: string;
      json: string;
    }>) {
      cache.#desired.set(row.site_id, { digest: row.digest, json: row.json });
    }
    for (const row of cache.#db.prepare('select digest from blobs').iterate() as Iterable<{
      digest: string;
    }>) {
      cache.#blobs.add(row.digest);
    }
    return cache;
  }

  async #moveInFiles(dir: string): Promise<void> {
    const listing = async (sub: string) => {
      try {
        return await readdir(join(dir, sub));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
    };
    const feed = await readJson<RelayFeed>(join(dir, 'feed.json'));
    const desiredFiles = (await listing('desired')).filter((f) => f.endsWith('.json'));
    const blobFiles = (await listing('blobs')).filter((f) => /^[0-9a-f]{64}$/.test(f));
    if (!feed && desiredFiles.length === 0 && blobFiles.length === 0) return;
    for (const file of blobFiles) {
      this.#waitingBlobs.set(`sha256:${file}`, await readFile(join(dir, 'blobs', file), 'utf8'));
    }
    for (const file of desiredFiles) {
      const state = await readJson<DesiredState>(join(dir, 'desired', file));
      if (state) this.#wait(decodeURIComponent(file.slice(0, -'.json'.length)), state);
    }
    this.#commit(feed ? { feed, sites: feed.sites, removed: [], whole: true } : undefined);
    await rm(join(dir, 'feed.json'), { force: true });
    await rm(join(dir, 'desired'), { recursive: true, force: true });
    await rm(join(dir, 'blobs'), { recursive: true, force: true });
  }

  #setFeed(feed: RelayFeed): void {
    this.#feed = feed;
    this.#bySerial = new Map(feed.sites.flatMap((s) => s.serials.map((serial) => [serial, s] as const)));
  }

  /** The serials of a delta's changed and removed sites move; the others' stay as they are. */
  #applySerials(held: RelayFeed, delta: RelayFeed): void {
    const before = new Map(held.sites.map((s) => [s.id, s]));
    for (const id of [...(delta.removed ?? []), ...delta.sites.map((s) => s.id)]) {
      for (const serial of before.get(id)?.serials ?? []) {
        if (this.#bySerial.get(serial)?.id === id) this.#bySerial.delete(serial);
      }
    }
    for (const s of delta.sites) for (const serial of s.serials) this.#bySerial.set(serial, s);
  }

  get feed(): RelayFeed | undefined {
    return this.#feed;
  }

  /** The site a certificate serial belongs to, if the relay serves it. */
  siteBySerial(serial: string): FeedSite | undefined {
    return this.#bySerial.get(serial);
  }

  /** The site's desired state as last committed to disk. */
  desired(siteId: string): CachedDesired | undefined {
    return this.#desired.get(siteId);
  }

  hasBlob(digest: string): boolean {
    return this.#blobs.has(digest);
  }

  blob(digest: string): Promise<string> {
    const waiting = this.#waitingBlobs.get(digest);
    if (waiting !== undefined) return Promise.resolve(waiting);
    const row = this.#getBlob.get(digest) as { body: string } | undefined;
    if (!row) return Promise.reject(new Error(`the relay cache holds no blob ${digest}`));
    return Promise.resolve(row.body);
  }

  /**
   * Takes a blob already checked against its digest into the next group commit (one transaction for
   * the saves of many sites: with the feed, once many wait, or after a moment).
   */
  saveBlob(digest: string, text: string): Promise<void> {
    this.#waitingBlobs.set(digest, text);
    this.#blobs.add(digest);
    this.#commitSoon();
    return Promise.resolve();
  }

  /**
   * Takes a site's desired state, once every blob it names is saved, into the next group commit; it is
   * served from the commit on (its blobs are committed with it or before it).
   */
  saveDesired(siteId: string, state: DesiredState): Promise<void> {
    this.#wait(siteId, state);
    this.#commitSoon();
    return Promise.resolve();
  }

  /**
   * Commits the feed with every save still waiting, in one transaction; the desired states of sites
   * that left it (out of the relay's scope) go with it. With the `delta` `feed` was made from (applied
   * to the feed held now), only the sites it changed or removed are written.
   */
  saveFeed(feed: RelayFeed, delta?: RelayFeed): Promise<void> {
    const held = this.#feed;
    if (delta?.delta && held) {
      this.#commit({ feed, sites: delta.sites, removed: delta.removed ?? [], whole: false });
      this.#feed = feed;
      this.#applySerials(held, delta);
      return Promise.resolve();
    }
    const kept = new Set(feed.sites.map((s) => s.id));
    const removed = (held?.sites ?? []).map((s) => s.id).filter((id) => !kept.has(id));
    this.#commit({ feed, sites: feed.sites, removed, whole: true });
    this.#setFeed(feed);
    return Promise.resolve();
  }

  /** Commits what waits and closes the file. */
  close(): void {
    this.#commit();
    this.#db.close();
  }

  #wait(siteId: string, state: DesiredState): void {
    this.#waitingDesired.set(siteId, { digest: state.digest, json: JSON.stringify(state) });
  }

  #commitSoon(): void {
    if (this.#waitingDesired.size + this.#waitingBlobs.size >= groupLimit) {
      this.#commit();
      return;
    }
    // a commit the timer makes and fails stays waiting: it is logged, and the next save or the feed's
    // commit tries again (and fails to its caller)
    this.#commitTimer ??= setTimeout(() => {
      try {
        this.#commit();
      } catch (e) {
        this.#log?.('relay cache commit failed; the saves wait for the next one', {
          error: (e as Error).message,
          desired: this.#waitingDesired.size,
          blobs: this.#waitingBlobs.size,
        });
      }
    }, groupMaxDelayMs);
  }

  #commit(write?: FeedWrite): void {
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    if (!write && this.#waitingDesired.size === 0 && this.#waitingBlobs.size === 0) return;
    const gone = write?.removed ?? [];
    this.#db.exec('begin');
    try {
      for (const [digest, text] of this.#waitingBlobs) this.#putBlob.run(digest, text);
      for (const [siteId, d] of this.#waitingDesired) this.#putDesired.run(siteId, d.digest, d.json);
      for (const siteId of gone) this.#dropDesired.run(siteId);
      if (write) {
        // the list itself is in feed_sites, one row a site
        this.#putFeed.run(JSON.stringify({ ...write.feed, sites: [] }));
        if (write.whole) this.#db.exec('delete from feed_sites');
        for (const siteId of gone) this.#dropFeedSite.run(siteId);
        for (const site of write.sites) this.#putFeedSite.run(site.id, JSON.stringify(site));
      }
      this.#db.exec('commit');
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec('rollback');
      throw e;
    }
    for (const [siteId, d] of this.#waitingDesired) this.#desired.set(siteId, d);
    for (const siteId of gone) this.#desired.delete(siteId);
    this.#waitingDesired = new Map();
    this.#waitingBlobs = new Map();
  }
}
