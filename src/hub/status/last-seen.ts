// When each site's agent was last heard from, kept in memory and written to sites.last_seen_at for many
// sites in one statement every flush: a long-poll costs no write of its own (an autocommitted update was
// the costliest statement of a poll). Each replica flushes what it heard; the sweep allows for that lag.

import { sql } from 'kysely';
import { engineOf } from '../store/dialect.ts';
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
   * failed flush are kept for the next one.
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
    // SQLite: from each contact to its site by key; left to itself its planner scanned every site for a
    // few hundred contacts
    const byKey = engineOf(this.#db as never) === 'sqlite' ? sql`+contact.id` : sql`contact.id`;
    try {
      for (let i = 0; i < contacts.length; i += perStatement) {
        const rows = contacts.slice(i, i + perStatement).map(([id, at]) => sql`(${id}, ${at})`);
        await sql`with contact (id, at) as (values ${sql.join(rows)})
          update sites set last_seen_at = contact.at from contact
          where sites.id = ${byKey} and (sites.last_seen_at is null or sites.last_seen_at < contact.at)`.execute(
          this.#db,
        );
      }
    } catch (e) {
      for (const [id, at] of contacts) this.record(id, at);
      throw e;
    }
  }
}
