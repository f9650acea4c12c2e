// Events at the hub: stored in the writer's transaction with a monotonic id, read by id ranges, and
// announced to streams after the commit. The feed only says "something new"; readers always re-read
// the table from their last id, so a missed wake-up costs latency, never an event.

import { sql } from 'kysely';
import type { EventType, NewEvent } from '../../model/event.ts';
import type { EventView } from '../../model/wire.ts';
import type { LabelSelector } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import { type Arg, type PositionalArgs, preparedPerSize, sizePieces } from '../store/prepared.ts';
import type { Db, EventTable } from '../store/schema.ts';
import { withinSql } from './query-sql.ts';

type Listener = () => void;

/** Wakes event readers (the SSE streams) when events were committed; closes them when the hub stops. */
export class EventFeed {
  readonly #listeners = new Set<Listener>();
  readonly #closing = new AbortController();
  readonly #relay: (() => void) | undefined;
  #version = 0;

  /** `relay` also tells other replicas (when several share a PostgreSQL store). */
  constructor(relay?: () => void) {
    this.#relay = relay;
  }

  /** Bumped by every notify: a reader notes it before reading, then waits with it as `since`. */
  get version(): number {
    return this.#version;
  }

  /** Aborted when the hub closes: every stream ends on it. */
  get closed(): AbortSignal {
    return this.#closing.signal;
  }

  /**
   * Resolves on the next notify (at once if one came after version `since`), on `timeoutMs`, on abort
   * or when the feed closes; true when woken by a notify.
   */
  next(timeoutMs: number, signal?: AbortSignal, since = this.#version): Promise<boolean> {
    if (this.#closing.signal.aborted || signal?.aborted) return Promise.resolve(false);
    if (since !== this.#version) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        this.#listeners.delete(wake);
        signal?.removeEventListener('abort', stop);
        this.#closing.signal.removeEventListener('abort', stop);
        resolve(woken);
      };
      const wake = () => finish(true);
      const stop = () => finish(false);
      const timer = setTimeout(stop, timeoutMs);
      this.#listeners.add(wake);
      signal?.addEventListener('abort', stop, { once: true });
      this.#closing.signal.addEventListener('abort', stop, { once: true });
    });
  }

  /** Wakes this process's readers and relays. Call after the commit. */
  notify(): void {
    this.wake();
    this.#relay?.();
  }

  /** Wakes this process's readers only (events another replica committed). */
  wake(): void {
    this.#version++;
    for (const l of [...this.#listeners]) l();
  }

  close(): void {
    this.#closing.abort();
  }

  get listening(): number {
    return this.#listeners.size;
  }
}

/** Stores events in the caller's transaction; call ctx.events.notify() after it commits. */
export async function insertEvents(ctx: HubContext, tx: Db, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (!tx.isTransaction) {
    await ctx.store.db.transaction().execute((t) => insertEvents(ctx, t, events));
    return;
  }
  // Readers resume after the last id they saw, so ids must become visible in order. One writer at a
  // time gives that on SQLite; on PostgreSQL replicas' sequences interleave, so event writers queue here
  // and commit one after the other.
  await ctx.store.sql.lockTransaction(tx as never, 'events');
  const time = ctx.now().toISOString();
  let at = 0;
  for (const size of sizePieces(events.length, eventsPerInsert)) {
    const args: Array<string | null> = [];
    for (let i = 0; i < size; i++) {
      const e = events[at + i]!;
      args.push(time, e.type, e.site ?? null, e.bundle ?? null, e.message, JSON.stringify(e.details ?? {}));
    }
    await eventsInsert(size)(tx, args as unknown as EventArgs);
    at += size;
  }
}

/** Events per insert at most: six parameters each. */
const eventsPerInsert = 256;

/** Six arguments an event, by position: time, type, site, bundle, message, details. */
type EventArgs = PositionalArgs<string | null>;

/**
 * The insert of `size` events, compiled once per size; a batch's events go in statements of
 * power-of-two sizes, in order (built anew for each batch of reports, the insert cost more than it ran).
 */
const eventsInsert = preparedPerSize((db, arg: Arg<EventArgs>, size) =>
  db.insertInto('events').values(
    Array.from({ length: size }, (_, i) => ({
      time: arg(`${6 * i}`) as string,
      type: arg(`${6 * i + 1}`) as string,
      site: arg(`${6 * i + 2}`),
      bundle: arg(`${6 * i + 3}`),
      message: arg(`${6 * i + 4}`) as string,
      details: arg(`${6 * i + 5}`) as string,
    })),
  ),
);

/**
 * Emits events on their own (for code outside a status change: approval, rollouts): stores them and
 * wakes the streams.
 */
export async function emitEvents(ctx: HubContext, events: readonly NewEvent[]): Promise<void> {
  await insertEvents(ctx, ctx.store.db, events);
  if (events.length > 0) ctx.events.notify();
}

export function eventView(
  row: Pick<EventTable, 'time' | 'type' | 'site' | 'bundle' | 'message' | 'details'> & {
    id: number;
  },
): EventView {
  return {
    id: Number(row.id),
    time: row.time,
    type: row.type as EventType,
    site: row.site,
    bundle: row.bundle,
    message: row.message,
    details: JSON.parse(row.details),
  };
}

export interface EventFilter {
  site?: string;
  type?: readonly string[];
  /** only events about a site one of these picks (a scoped token's reach); fleet events are left out */
  within?: readonly LabelSelector[];
}

/** Events about a site one of these selectors picks. */
function aboutSitesWithin(ctx: HubContext, within: readonly LabelSelector[]) {
  return sql<boolean>`site in (select s.name from sites s where ${withinSql(within, ctx.store.sql)})`;
}

/** The id of the newest event, 0 when there is none: where a stream with nothing to resume from starts. */
export async function lastEventId(ctx: HubContext): Promise<number> {
  const row = await ctx.store.db
    .selectFrom('events')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/** Events with id > after, oldest first. */
export async function eventsAfter(
  ctx: HubContext,
  after: number,
  filter: EventFilter,
  limit: number,
): Promise<EventView[]> {
  let q = ctx.store.db.selectFrom('events').selectAll().where('id', '>', after);
  if (filter.site !== undefined) q = q.where('site', '=', filter.site);
  if (filter.type && filter.type.length > 0) q = q.where('type', 'in', filter.type);
  if (filter.within) q = q.where(aboutSitesWithin(ctx, filter.within));
  const rows = await q.orderBy('id').limit(limit).execute();
  return rows.map(eventView);
}

/** The latest `limit` events (optionally before id `before`), oldest first. */
export async function latestEvents(
  ctx: HubContext,
  filter: EventFilter,
  limit: number,
  before?: number,
): Promise<EventView[]> {
  let q = ctx.store.db.selectFrom('events').selectAll();
  if (before !== undefined) q = q.where('id', '<', before);
  if (filter.site !== undefined) q = q.where('site', '=', filter.site);
  if (filter.type && filter.type.length > 0) q = q.where('type', 'in', filter.type);
  if (filter.within) q = q.where(aboutSitesWithin(ctx, filter.within));
  const rows = await q.orderBy('id', 'desc').limit(limit).execute();
  return rows.reverse().map(eventView);
}

/** Drops events older than the retention; the sweeper calls it. */
export async function pruneEvents(ctx: HubContext): Promise<number> {
  const cutoff = new Date(ctx.now().getTime() - ctx.config.events.retentionMs).toISOString();
  const r = await ctx.store.db.deleteFrom('events').where('time', '<', cutoff).executeTakeFirst();
  return Number(r.numDeletedRows);
}
