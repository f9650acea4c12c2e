// How hub replicas on one PostgreSQL database act as one hub: changes made on one replica wake the
// long-polls and event streams held by the others (LISTEN/NOTIFY), and work that must run once (status
// sweeps, rollout ticks, git polls) runs only on the leader, the replica holding an advisory lock.

import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { clientConfig } from './store/postgres.ts';
import type { Db } from './store/schema.ts';

export interface Coordination {
  /** true while this replica should run the work that must run once */
  readonly leading: boolean;
  /** tells the other replicas that these sites' desired state changed (after the commit) */
  publishDesired(siteIds: readonly string[]): void;
  /** tells the other replicas that events were committed */
  publishEvents(): void;
  /** tells the other replicas that operations were queued for these sites (after the commit) */
  publishWork(siteIds: readonly string[]): void;
  /**
   * tells the other replicas that what these sites are to their agents changed (lifecycle, labels,
   * certificates), so they forget the certificates they remember (after the commit)
   */
  publishSites(siteIds: readonly string[]): void;
  close(): Promise<void>;
}

/** One process owns its store: it always leads and has nobody to tell. */
export const singleProcess: Coordination = {
  leading: true,
  publishDesired() {},
  publishEvents() {},
  publishWork() {},
  publishSites() {},
  async close() {},
};

export interface ReplicaHandlers {
  /** other replicas changed these sites' desired state */
  desired(siteIds: string[]): void;
  /** other replicas committed events */
  events(): void;
  /** other replicas queued operations for these sites */
  work(siteIds: string[]): void;
  /** other replicas changed what these sites are to their agents */
  sites(siteIds: string[]): void;
  /** notifications may have been missed (the session was lost): wake every waiter to re-read */
  resync(): void;
  leaderChanged(leading: boolean): void;
  log(message: string, fields?: Record<string, unknown>): void;
}

export interface ReplicaOptions {
  /** how often a follower tries to take the lead and the leader checks its session (default 1 s) */
  leaderCheckMs?: number;
}

const desiredChannel = 'outpost_desired';
const eventsChannel = 'outpost_events';
const workChannel = 'outpost_work';
const sitesChannel = 'outpost_sites';
/** the leader's session-level advisory lock (any constant no other program uses) */
const leaderLock = 0x6f75_7471;
/** NOTIFY payloads must stay under 8000 bytes; site ids are 36 characters */
const idsPerNotify = 150;

/**
 * A replica's own session (not pooled): it LISTENs and, when leader, holds the leader lock, which
 * PostgreSQL frees the moment the session ends, so a killed leader is replaced within one check.
 * Publishing goes through the pool, coalesced per turn of the event loop.
 */
export class ReplicaCoordination implements Coordination {
  readonly #url: string;
  readonly #db: Db;
  #on: ReplicaHandlers | undefined;
  readonly #checkMs: number;
  readonly #self = randomUUID();
  #client: pg.Client | undefined;
  #leading = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #desired = new Set<string>();
  #events = false;
  #work = new Set<string>();
  #sites = new Set<string>();
  #flush: Promise<void> | undefined;

  constructor(url: string, db: Db, opts: ReplicaOptions = {}) {
    this.#url = url;
    this.#db = db;
    this.#checkMs = opts.leaderCheckMs ?? 1000;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /**
   * Connects and listens before returning, telling `on` from then on; leadership is decided right after
   * and then every check. Publishing works before: what it sends is committed already.
   */
  async start(on: ReplicaHandlers): Promise<void> {
    this.#on = on;
    await this.#connect();
    this.#schedule(0);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(clientConfig(this.#url, { statementTimeoutMs: 10_000 }));
    client.on('error', () => this.#lost(client, 'error'));
    client.on('end', () => this.#lost(client, 'end'));
    client.on('notification', (n) => this.#received(n.channel, n.payload ?? ''));
    await client.connect();
    await client.query(
      `listen ${desiredChannel}; listen ${eventsChannel}; listen ${workChannel}; listen ${sitesChannel}`,
    );
    this.#client = client;
  }

  #lost(client: pg.Client, why: string): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => {});
    this.#setLeading(false);
    if (!this.#closed) this.#on?.log('replica session lost; reconnecting', { why });
  }

  #setLeading(leading: boolean): void {
    if (this.#leading === leading) return;
    this.#leading = leading;
    this.#on?.leaderChanged(leading);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#checking = this.#check().finally(() => this.#schedule(this.#checkMs));
    }, delayMs);
    this.#timer.unref();
  }

  /** One round: reconnect when needed, then take the lead or prove the session that holds it is alive. */
  async #check(): Promise<void> {
    try {
      if (!this.#client) {
        await this.#connect();
        this.#on?.resync();
      }
      const client = this.#client!;
      if (this.#leading) {
        await client.query('select 1');
      } else {
        const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [leaderLock]);
        if (this.#closed) return;
        this.#setLeading(r.rows[0]?.ok === true);
      }
    } catch (e) {
      if (this.#client) this.#lost(this.#client, (e as Error).message);
    }
  }

  #received(channel: string, payload: string): void {
    const bar = payload.indexOf('|');
    if (payload.slice(0, bar) === this.#self) return;
    if (channel === desiredChannel) this.#on?.desired(payload.slice(bar + 1).split(','));
    else if (channel === eventsChannel) this.#on?.events();
    else if (channel === workChannel) this.#on?.work(payload.slice(bar + 1).split(','));
    else if (channel === sitesChannel) this.#on?.sites(payload.slice(bar + 1).split(','));
  }

  publishDesired(siteIds: readonly string[]): void {
    for (const id of siteIds) this.#desired.add(id);
    this.#flushSoon();
  }

  publishEvents(): void {
    this.#events = true;
    this.#flushSoon();
  }

  publishWork(siteIds: readonly string[]): void {
    for (const id of siteIds) this.#work.add(id);
    this.#flushSoon();
  }

  publishSites(siteIds: readonly string[]): void {
    for (const id of siteIds) this.#sites.add(id);
    this.#flushSoon();
  }

  #flushSoon(): void {
    this.#flush ??= new Promise<void>((r) => setImmediate(r)).then(() => this.#send());
  }

  async #send(): Promise<void> {
    const ids = [...this.#desired];
    const events = this.#events;
    const work = [...this.#work];
    const sites = [...this.#sites];
    this.#desired.clear();
    this.#events = false;
    this.#work.clear();
    this.#sites.clear();
    this.#flush = undefined;
    const messages: Array<[string, string]> = [];
    for (let i = 0; i < ids.length; i += idsPerNotify) {
      messages.push([desiredChannel, `${this.#self}|${ids.slice(i, i + idsPerNotify).join(',')}`]);
    }
    if (events) messages.push([eventsChannel, `${this.#self}|`]);
    for (let i = 0; i < work.length; i += idsPerNotify) {
      messages.push([workChannel, `${this.#self}|${work.slice(i, i + idsPerNotify).join(',')}`]);
    }
    for (let i = 0; i < sites.length; i += idsPerNotify) {
      messages.push([sitesChannel, `${this.#self}|${sites.slice(i, i + idsPerNotify).join(',')}`]);
    }
    try {
      for (const [channel, payload] of messages) {
        await sql`select pg_notify(${channel}, ${payload})`.execute(this.#db);
      }
    } catch (e) {
      // the change is committed; other replicas' waiters see it at their next poll or heartbeat
      this.#on?.log('could not notify other replicas', { error: (e as Error).message });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#checking;
    await this.#flush;
    const client = this.#client;
    this.#client = undefined;
    this.#setLeading(false);
    await client?.end().catch(() => {});
  }
}
