// The relay's side of the relay API: one change feed held open to the hub for all its sites (each answer,
// whole or what changed since its cursor, brings the changed signed desired states and blobs into the
// cache, then wakes those sites' polls), and the outbox sent up in batches over the same few
// connections, each item dropped once the hub has it.

import { backoffDelay, Wakeup } from '../base/timing.ts';
import type {
  FeedSite,
  RelayBatchAck,
  RelayDesiredResponse,
  RelayFeed,
  RelayStatus,
} from '../model/relay-wire.ts';
import { HttpClient, type JsonResponse } from '../net/http-client.ts';
import { sha256Digest } from '../render/digest.ts';
import type { RelayCache } from './cache.ts';
import { applyFeedDelta } from './feed-delta.ts';
import type { RelayOutbox } from './outbox.ts';
import type { RelayIdentity } from './relay-identity.ts';

export interface UplinkOptions {
  identity: RelayIdentity;
  cache: RelayCache;
  outbox: RelayOutbox;
  /** how long the hub may hold the change feed */
  feedWaitSeconds: number;
  /** how often a batch goes up while items wait (sooner when many do) */
  batchIntervalMs: number;
  /** sites whose desired state changed in the cache */
  onDesiredChanged: (siteIds: readonly string[]) => void;
  /** the sites with operations waiting at the hub, as of each change feed answer */
  onWork: (siteIds: readonly string[]) => void;
  /** an item the hub did not store (refused, or a replay of what it had): a report's site must report anew */
  onNotStored: (item: { id: number; siteId: string; kind: 'report' | 'telemetry' }) => void;
  /** the relay's view of itself, sent with each batch; takes the sites heard from since the last one */
  takeSeen: () => string[];
  status: () => RelayStatus;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** Items and bytes per batch: a batch is one hub request and a few group commits. */
const batchItems = 2000;
const batchBytes = 4 * 1024 * 1024;
/** Desired states asked for per request (the most a hub takes), and requests in flight at once. */
const desiredPerRequest = 1000;
const desiredRequestsInFlight = 4;

function failure(res: JsonResponse, what: string): Error {
  const err = (res.body as { error?: { message?: string } } | undefined)?.error;
  return new Error(`${what}: ${err?.message ?? `HTTP ${res.status}`}`);
}

function clientFor(identity: RelayIdentity): HttpClient {
  return new HttpClient(identity.hub, {
    ca: identity.caPem,
    cert: identity.clientCertPem,
    key: identity.keyPem,
  });
}

export class Uplink {
  readonly #opts: UplinkOptions;
  #http: HttpClient;
  readonly #wakeSender = new Wakeup();
  #feedAnsweredAt = 0;
  /** when the feed call in flight was sent, while the hub may still be holding it (0: none) */
  #feedHeldSince = 0;
  #hubReachable = false;
  readonly #blobsFetching = new Map<string, Promise<void>>();
  /** sites heard from whose batch did not reach the hub: told with the next one */
  #seenNotSent: string[] = [];

  constructor(opts: UplinkOptions) {
    this.#opts = opts;
    this.#http = clientFor(opts.identity);
  }

  /**
   * When the hub's change feed was last heard from (0: not since start): its last answer, or now while a
   * call it may still be holding is in flight. A held call is the hub waiting for a change to tell, not
   * silence; one held past the longest hold counts from when that hold should have ended.
   */
  get feedHeardAt(): number {
    if (this.#feedHeldSince === 0) return this.#feedAnsweredAt;
    const holdEnds = this.#feedHeldSince + this.#opts.feedWaitSeconds * 1000;
    return Math.max(this.#feedAnsweredAt, Math.min(Date.now(), holdEnds));
  }

  get hubReachable(): boolean {
    return this.#hubReachable;
  }

  /** Items wait in the outbox: send soon. */
  itemsWaiting(): void {
    if (this.#opts.outbox.stats().pending >= batchItems) this.#wakeSender.wake();
  }

  async runFeed(signal: AbortSignal): Promise<void> {
    const { cache, log } = this.#opts;
    let failures = 0;
    // the cursor of the last answer the cache took: the hub tells only what changed since ('' for none;
    // undefined from a hub without cursors, asked with the digest of its last whole list)
    let cursor: string | undefined = cache.feed?.cursor ?? '';
    // a feed the cache has not fully caught up with is asked for again in full
    let synced: string | undefined;
    const pause = new Wakeup();
    while (!signal.aborted) {
      try {
        const held = cursor ? true : cursor === undefined && synced !== undefined;
        // only a call after an answer counts as held: one that cannot reach the hub fails or never answers
        if (held && this.#hubReachable) this.#feedHeldSince = Date.now();
        const res = await this.#http
          .request('GET', '/relay/v1/changes', {
            query: { wait: held ? this.#opts.feedWaitSeconds : undefined, since: cursor ?? '' },
            headers: cursor === undefined && synced ? { 'if-none-match': `"${synced}"` } : {},
            timeoutMs: (this.#opts.feedWaitSeconds + 30) * 1000,
            signal,
          })
          .finally(() => {
            this.#feedHeldSince = 0;
          });
        if (res.status !== 200 && res.status !== 304) throw failure(res, 'change feed');
        this.#feedAnsweredAt = Date.now();
        this.#hubReachable = true;
        failures = 0;
        if (res.status === 304) continue;
        const answer = res.body as RelayFeed;
        let feed = answer;
        if (answer.delta) {
          // a delta answers the cursor of the feed the cache holds
          if (!cache.feed) {
            cursor = '';
            continue;
          }
          feed = applyFeedDelta(cache.feed, answer);
        }
        // a cursor is taken only once the cache holds the states it answers: a failed catch-up asks again
        const changed = await this.#catchUp(answer.sites, signal);
        await cache.saveFeed(feed, answer);
        cursor = answer.cursor;
        synced = answer.digest;
        this.#opts.onWork(feed.work ?? []);
        if (changed.length > 0) {
          log?.('desired states changed', { sites: changed.length });
          this.#opts.onDesiredChanged(changed);
        }
      } catch (e) {
        if (signal.aborted) return;
        this.#hubReachable = false;
        const delay = backoffDelay(failures++, 500, 30_000);
        log?.('hub unreachable; serving the cached desired states', {
          error: (e as Error).message,
          delayMs: delay,
        });
        await pause.sleep(delay, signal);
      }
    }
  }

  /** Fetches the desired states (and their blobs) that differ from the cache; returns their sites. */
  async #catchUp(sites: readonly FeedSite[], signal: AbortSignal): Promise<string[]> {
    const { cache } = this.#opts;
    const stale = sites
      .filter((s) => {
        const have = cache.desired(s.id);
        return !have || (s.digest !== null && have.digest !== s.digest);
      })
      .map((s) => s.id);
    const changed: string[] = [];
    const chunks: string[][] = [];
    for (let i = 0; i < stale.length; i += desiredPerRequest)
      chunks.push(stale.slice(i, i + desiredPerRequest));
    const fetchChunks = async () => {
      for (let chunk = chunks.shift(); chunk; chunk = chunks.shift()) {
        const res = await this.#http.request('POST', '/relay/v1/desired', {
          body: { siteIds: chunk },
          timeoutMs: 60_000,
          signal,
        });
        if (res.status !== 200) throw failure(res, 'desired states');
        for (const { siteId, state } of (res.body as RelayDesiredResponse).states) {
          for (const d of state.deployments) if (!cache.hasBlob(d.digest)) await this.#blob(d.digest, signal);
          await cache.saveDesired(siteId, state);
          changed.push(siteId);
        }
      }
    };
    // a fleet-wide revision changes every site's state: the hub signs while the relay writes. On a
    // failure the others stop at their chunk's end, so no late answer lands after the retry's newer one.
    const settled = await Promise.allSettled(
      Array.from({ length: desiredRequestsInFlight }, () =>
        fetchChunks().catch((e: unknown) => {
          chunks.length = 0;
          throw e;
        }),
      ),
    );
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    return changed;
  }

  /** A blob into the cache, fetched once however many of the states in flight name it. */
  #blob(digest: string, signal: AbortSignal): Promise<void> {
    let fetching = this.#blobsFetching.get(digest);
    if (!fetching) {
      fetching = this.#fetchBlob(digest, signal).finally(() => this.#blobsFetching.delete(digest));
      this.#blobsFetching.set(digest, fetching);
    }
    return fetching;
  }

  async #fetchBlob(digest: string, signal: AbortSignal): Promise<void> {
    const res = await this.#http.request('GET', `/relay/v1/blobs/${digest}`, {
      raw: true,
      timeoutMs: 60_000,
      signal,
    });
    if (res.status !== 200) throw failure(res, `blob ${digest}`);
    const text = res.body as string;
    if (sha256Digest(text) !== digest) throw new Error(`blob ${digest} does not match its digest`);
    await this.#opts.cache.saveBlob(digest, text);
  }

  /** Sends the outbox up in batches, oldest first, until `signal` aborts. */
  async runSender(signal: AbortSignal): Promise<void> {
    const { outbox, log } = this.#opts;
    let failures = 0;
    while (!signal.aborted) {
      const items = outbox.oldest(batchItems, batchBytes);
      const seen = [...new Set([...this.#seenNotSent, ...this.#opts.takeSeen()])];
      this.#seenNotSent = [];
      try {
        // the item bodies are the sites' JSON as stored: spliced in, not parsed and written again
        const body = `{"items":[${items
          .map(
            (i) =>
              `{"id":${i.id},"siteId":${JSON.stringify(i.siteId)},"kind":"${i.kind}","${i.kind}":${i.body}}`,
          )
          .join(',')}],"seen":${JSON.stringify(seen)},"status":${JSON.stringify(this.#opts.status())}}`;
        const res = await this.#http.request('POST', '/relay/v1/batches', {
          body,
          timeoutMs: 120_000,
          signal,
        });
        if (res.status !== 200) throw failure(res, 'batch');
        const ack = res.body as RelayBatchAck;
        const byId = new Map(items.map((i) => [i.id, i]));
        for (const r of ack.results) {
          if (r.outcome === 'refused')
            log?.('the hub refused an item; dropping it', { id: r.id, reason: r.reason });
          const item = byId.get(r.id);
          if (r.outcome !== 'stored' && item) this.#opts.onNotStored(item);
        }
        outbox.remove(ack.results.map((r) => r.id));
        this.#hubReachable = true;
        failures = 0;
        if (items.length < batchItems) await this.#wakeSender.sleep(this.#opts.batchIntervalMs, signal);
      } catch (e) {
        if (signal.aborted) return;
        this.#hubReachable = false;
        this.#seenNotSent = seen;
        const delay = backoffDelay(failures++, 500, 30_000);
        log?.('batch not delivered; kept in the outbox', {
          error: (e as Error).message,
          pending: outbox.stats().pending,
          delayMs: delay,
        });
        await this.#wakeSender.sleep(delay, signal);
      }
    }
  }

  /** Calls the hub with a renewed identity from now on; calls held with the old one are cut and retried. */
  useIdentity(identity: RelayIdentity): void {
    const old = this.#http;
    this.#http = clientFor(identity);
    old.close();
  }

  close(): void {
    this.#http.close();
  }
}
