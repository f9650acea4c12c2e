// The relay's durable outbox: what its sites sent up (reports, telemetry), kept in a SQLite file until
// the hub acknowledges it, within a byte budget. An item is on disk before the site hears "accepted";
// past the budget the oldest items go first and are counted, as the agent's own outbox does.

import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export type OutboxKind = 'report' | 'telemetry';

export interface OutboxItem {
  id: number;
  siteId: string;
  kind: OutboxKind;
  /** the item's JSON, as the site sent it */
  body: string;
}

/** An item the byte budget pushed out: it will never reach the hub. */
export interface DroppedItem {
  id: number;
  siteId: string;
}

export interface OutboxStats {
  pending: number;
  bytes: number;
  /** dropped since the relay's state directory was made */
  dropped: number;
}

export class RelayOutbox {
  readonly #db: DatabaseSync;
  readonly #budgetBytes: number;
  readonly #insert: StatementSync;
  readonly #oldest: StatementSync;
  #pending: number;
  #bytes: number;
  #dropped: number;

  /** Opens (or makes) the outbox in `dir`; `budgetBytes` bounds the bodies it keeps. */
  constructor(dir: string, budgetBytes: number) {
    this.#db = new DatabaseSync(join(dir, 'outbox.sqlite'));
    this.#db.exec(`
      pragma journal_mode = wal;
      pragma synchronous = full;
      create table if not exists items (
        id integer primary key autoincrement, site_id text not null, kind text not null, body text not null
      );
      create table if not exists meta (key text primary key, value integer not null);
      insert into meta (key, value) values ('dropped', 0) on conflict do nothing;`);
    this.#budgetBytes = budgetBytes;
    this.#insert = this.#db.prepare('insert into items (site_id, kind, body) values (?, ?, ?) returning id');
    this.#oldest = this.#db.prepare('select id, site_id, kind, body from items order by id limit ?');
    const totals = this.#db
      .prepare('select count(*) as n, coalesce(sum(length(cast(body as blob))), 0) as b from items')
      .get() as {
      n: number;
      b: number;
    };
    this.#pending = Number(totals.n);
    this.#bytes = Number(totals.b);
    this.#dropped = Number(
      (this.#db.prepare("select value from meta where key = 'dropped'").get() as { value: number }).value,
    );
  }

  /**
   * Keeps the items on disk (one commit for all), dropping the oldest when the budget is full. Returns
   * the new items' ids (in order) and the items dropped to make room, which may include new ones.
   */
  add(items: readonly Omit<OutboxItem, 'id'>[]): { ids: number[]; dropped: DroppedItem[] } {
    this.#db.exec('begin');
    try {
      const ids: number[] = [];
      for (const item of items) {
        ids.push(Number((this.#insert.get(item.siteId, item.kind, item.body) as { id: number }).id));
        this.#pending++;
        this.#bytes += Buffer.byteLength(item.body);
      }
      const dropped = this.#dropOverBudget();
      this.#db.exec('commit');
      return { ids, dropped };
    } catch (e) {
      this.#db.exec('rollback');
      throw e;
    }
  }

  /** The oldest items, up to `max` of them and about `maxBytes` (always at least one). */
  oldest(max: number, maxBytes: number): OutboxItem[] {
    const out: OutboxItem[] = [];
    let bytes = 0;
    for (const row of this.#oldest.all(max) as {
      id: number;
      site_id: string;
      kind: OutboxKind;
      body: string;
    }[]) {
      bytes += row.body.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push({ id: Number(row.id), siteId: row.site_id, kind: row.kind, body: row.body });
    }
    return out;
  }

  /** The hub has these (stored, already had them, or refused them for good): they leave the outbox. */
  remove(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.#db.exec('begin');
    try {
      const del = this.#db.prepare(
        'delete from items where id = ? returning length(cast(body as blob)) as b',
      );
      for (const id of ids) {
        const gone = del.get(id) as { b: number } | undefined;
        if (gone) {
          this.#pending--;
          this.#bytes -= Number(gone.b);
        }
      }
      this.#db.exec('commit');
    } catch (e) {
      this.#db.exec('rollback');
      throw e;
    }
  }

  #dropOverBudget(): DroppedItem[] {
    if (this.#bytes <= this.#budgetBytes) return [];
    const victims = this.#db
      .prepare('select id, site_id, length(cast(body as blob)) as b from items order by id')
      .iterate() as Iterable<{
      id: number;
      site_id: string;
      b: number;
    }>;
    const dropped: DroppedItem[] = [];
    for (const v of victims) {
      if (this.#bytes <= this.#budgetBytes) break;
      dropped.push({ id: Number(v.id), siteId: v.site_id });
      this.#bytes -= Number(v.b);
      this.#pending--;
    }
    const del = this.#db.prepare('delete from items where id = ?');
    for (const { id } of dropped) del.run(id);
    this.#dropped += dropped.length;
    this.#db.prepare("update meta set value = ? where key = 'dropped'").run(this.#dropped);
    return dropped;
  }

  stats(): OutboxStats {
    return { pending: this.#pending, bytes: this.#bytes, dropped: this.#dropped };
  }

  close(): void {
    this.#db.close();
  }
}
