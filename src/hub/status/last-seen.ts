// When each site's agent was last heard from, kept in memory and written to sites.last_seen_at for many
// sites in one statement every flush: a long-poll costs no write of its own (an autocommitted update was
// the costliest statement of a poll). Each replica flushes what it heard; the sweep allows for that lag.

import { sql } from 'kysely';
import { engineOf, sourceKey } from '../store/dialect.ts';
import type { Db } from '../store/schema.ts';

/** Sites per statement: two parameters each, far below every engine's limit. */
const perStatement = 500;

export class LastSeen {
  readonly #db: Db;
  #pending = new Map<string, string>();
  #flushing: Promise<void> = Promise.resolve();

  constructor(db: Db) {
    this.#db = db;
  }

  /** Notes a contact at `at` (ISO time); stored at the next flush. */
  record(siteId: string, at: string): void {
    const known = this.#pending.get(siteId);
    if (known === undefined || known < at) this.#pending.set(siteId, at);
  }

  /** Contacts heard but not stored yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Stores every contact heard so far. A stored time only moves forward: a report another replica
   * ingested meanwhile may have stored a later one. Flushes run one after the other; contacts of a
   * failed flush are kept for the next one, and so (PostgreSQL) are those of sites whose rows another
   * transaction held: the flush skips them rather than wait.
   */
  flush(): Promise<void> {
    const run = this.#flushing.then(() => this.#write());
    this.#flushing = run.catch(() => {});
    return run;
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    // in site-id order, as every writer of many sites' rows writes them (PostgreSQL: no deadlocks)
    const contacts = [...this.#pending].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#pending = new Map();
    const postgres = engineOf(this.#db as never) === 'postgres';
    try {
      for (let i = 0; i < contacts.length; i += perStatement) {
        const rows = contacts.slice(i, i + perStatement).map(([id, at]) => sql`(${id}, ${at})`);
        if (!postgres) {
          await sql`with contact (id, at) as (values ${sql.join(rows)})
            update sites set last_seen_at = contact.at from contact
            where sites.id = ${sourceKey(this.#db as never, 'contact')} and (sites.last_seen_at is null or sites.last_seen_at < contact.at)`.execute(
            this.#db,
          );
          continue;
        }
        // PostgreSQL: the rows are locked in id order, leaving out those another transaction holds (a
        // report batch or a placement chunk, which take site rows in the same order): the flush waits
        // for none and is waited for by none beyond its own statement. Contacts of held sites (of sites
        // that still exist) come back and are heard again for the next flush, where a newer contact of
        // the same site heard meanwhile wins.
        const { rows: held } = await sql<{
          id: string;
          at: string;
        }>`with contact (id, at) as (values ${sql.join(rows)}),
          locked as materialized (select id from sites where id in (select id from contact)
            order by id for update skip locked),
          written as (update sites set last_seen_at = contact.at from contact
            where sites.id = contact.id and sites.id in (select id from locked)
              and (sites.last_seen_at is null or sites.last_seen_at < contact.at))
          select contact.id, contact.at from contact join sites on sites.id = contact.id
          where contact.id not in (select id from locked)`.execute(this.#db);
        for (const { id, at } of held) this.record(id, at);
      }
    } catch (e) {
      for (const [id, at] of contacts) this.record(id, at);
      throw e;
    }
  }
}
