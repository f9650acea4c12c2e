// The relay's content-addressed cache on disk: the change feed's last answer (the sites it serves and
// their certificates), each site's signed desired state, and the blobs they name, stored by digest. It is
// what the relay serves from, so its sites keep their desired state while the hub is out of reach.

import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeAtomic } from '../agent/state/local-state.ts';
import type { FeedSite, RelayFeed } from '../model/relay-wire.ts';
import type { DesiredState } from '../model/wire.ts';

export class RelayCache {
  readonly #dir: string;
  #feed: RelayFeed | undefined;
  #bySerial = new Map<string, FeedSite>();
  readonly #desired = new Map<string, DesiredState>();
  readonly #blobs = new Set<string>();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens the cache in `dir` with what an earlier run saved. */
  static async open(dir: string): Promise<RelayCache> {
    const cache = new RelayCache(dir);
    await mkdir(join(dir, 'desired'), { recursive: true });
    await mkdir(join(dir, 'blobs'), { recursive: true });
    const feed = await readJson<RelayFeed>(join(dir, 'feed.json'));
    if (feed) cache.#setFeed(feed);
    for (const file of await readdir(join(dir, 'desired'))) {
      if (!file.endsWith('.json')) continue;
      const state = await readJson<DesiredState>(join(dir, 'desired', file));
      if (state) cache.#desired.set(decodeURIComponent(file.slice(0, -'.json'.length)), state);
    }
    for (const file of await readdir(join(dir, 'blobs'))) cache.#blobs.add(`sha256:${file}`);
    return cache;
  }

  #setFeed(feed: RelayFeed): void {
    this.#feed = feed;
    this.#bySerial = new Map(feed.sites.flatMap((s) => s.serials.map((serial) => [serial, s] as const)));
  }

  get feed(): RelayFeed | undefined {
    return this.#feed;
  }

  /** The site a certificate serial belongs to, if the relay serves it. */
  siteBySerial(serial: string): FeedSite | undefined {
    return this.#bySerial.get(serial);
  }

  desired(siteId: string): DesiredState | undefined {
    return this.#desired.get(siteId);
  }

  hasBlob(digest: string): boolean {
    return this.#blobs.has(digest);
  }

  blob(digest: string): Promise<string> {
    return readFile(join(this.#dir, 'blobs', digest.slice('sha256:'.length)), 'utf8');
  }

  /** Stores a blob already checked against its digest. */
  async saveBlob(digest: string, text: string): Promise<void> {
    await writeAtomic(join(this.#dir, 'blobs', digest.slice('sha256:'.length)), text);
    this.#blobs.add(digest);
  }

  /** Stores a site's desired state once every blob it names is stored. */
  async saveDesired(siteId: string, state: DesiredState): Promise<void> {
    await writeAtomic(
      join(this.#dir, 'desired', `${encodeURIComponent(siteId)}.json`),
      JSON.stringify(state),
    );
    this.#desired.set(siteId, state);
  }

  async saveFeed(feed: RelayFeed): Promise<void> {
    await writeAtomic(join(this.#dir, 'feed.json'), JSON.stringify(feed));
    this.#setFeed(feed);
  }
}
