// The embedded store: Node's built-in SQLite (no native addon to build) behind Kysely's SQLite dialect.
// WAL mode lets readers proceed while the single writer commits.

import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import {
  type DatabaseConnection,
  type Driver,
  Kysely,
  type SqliteDatabase,
  SqliteDialect,
  type SqliteStatement,
} from 'kysely';
import type { Database } from './schema.ts';

const statementCacheSize = 500;

/**
 * Adapts node:sqlite's DatabaseSync to the better-sqlite3 shape Kysely's SqliteDialect drives. Kysely
 * prepares every query anew; compiling SQL cost a fifth of a report's ingestion, so prepared statements
 * are kept by SQL text (a bounded cache: statements with varying IN lists come and go). Kysely runs one
 * query at a time on the one connection, so a statement is never reused while it runs.
 */
function adapt(db: DatabaseSync): SqliteDatabase {
  const cache = new Map<string, { stmt: StatementSync; reader: boolean }>();
  const prepared = (sql: string) => {
    let entry = cache.get(sql);
    if (!entry) {
      const stmt = db.prepare(sql);
      entry = { stmt, reader: stmt.columns().length > 0 };
      if (cache.size >= statementCacheSize) cache.delete(cache.keys().next().value!);
      cache.set(sql, entry);
    }
    return entry;
  };
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      const { stmt, reader } = prepared(sql);
      return {
        reader,
        all: (params) => stmt.all(...bind(params)),
        run: (params) => {
          const r = stmt.run(...bind(params));
          return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
        },
        iterate: (params) => stmt.iterate(...bind(params)),
      };
    },
  };
}

function bind(params: ReadonlyArray<unknown>): SQLInputValue[] {
  return params.map((p) => {
    if (typeof p === 'boolean') return p ? 1 : 0;
    if (p === undefined) return null;
    if (p instanceof Date) return p.toISOString();
    return p as SQLInputValue;
  });
}

/** Called after every query with its SQL and duration, e.g. to feed a latency histogram. */
export type QueryObserver = (sql: string, seconds: number) => void;

export function openSqlite(path: string, onQuery?: QueryObserver): Kysely<Database> {
  const raw = new DatabaseSync(path);
  raw.exec('PRAGMA journal_mode = WAL');
  raw.exec('PRAGMA synchronous = NORMAL');
  raw.exec('PRAGMA busy_timeout = 5000');
  raw.exec('PRAGMA foreign_keys = ON');
  return new Kysely<Database>({
    dialect: new FifoSqliteDialect(raw),
    ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.queryDurationMillis / 1000) } : {}),
  });
}

/**
 * SQLite's one connection, handed out first come, first served. Kysely's own single-connection lock
 * wakes every waiter on each release and lets them race for it again: with thousands of queries queued
 * (a long-poll per site woken by one placement) that is O(n²) wake-ups, seconds of CPU at 10,000 sites.
 * Here each release wakes exactly the next waiter, so Kysely's lock never has more than one to wake.
 */
class FifoDriver implements Driver {
  readonly #inner: Driver;
  readonly #raw: DatabaseSync;
  readonly #waiting: Array<() => void> = [];
  #held = false;

  constructor(inner: Driver, raw: DatabaseSync) {
    this.#inner = inner;
    this.#raw = raw;
  }

  init() {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#held) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#held = true;
    try {
      return await this.#inner.acquireConnection();
    } catch (e) {
      this.#handOver();
      throw e;
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    try {
      await this.#inner.releaseConnection(connection);
    } finally {
      this.#handOver();
    }
  }

  #handOver(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#held = false;
  }

  beginTransaction(...args: Parameters<Driver['beginTransaction']>) {
    return this.#inner.beginTransaction(...args);
  }
  commitTransaction(connection: DatabaseConnection) {
    return this.#inner.commitTransaction(connection);
  }
  /**
   * SQLite ends a transaction itself on some errors (a full disk, out of memory); a ROLLBACK after that
   * fails with "no transaction is active", and Kysely would throw that instead of the cause.
   */
  async rollbackTransaction(connection: DatabaseConnection) {
    if (this.#raw.isTransaction) await this.#inner.rollbackTransaction(connection);
  }
  savepoint(...args: Parameters<NonNullable<Driver['savepoint']>>) {
    return this.#inner.savepoint!(...args);
  }
  async rollbackToSavepoint(...args: Parameters<NonNullable<Driver['rollbackToSavepoint']>>) {
    if (this.#raw.isTransaction) await this.#inner.rollbackToSavepoint!(...args);
  }
  releaseSavepoint(...args: Parameters<NonNullable<Driver['releaseSavepoint']>>) {
    return this.#inner.releaseSavepoint!(...args);
  }
  destroy() {
    return this.#inner.destroy();
  }
}

class FifoSqliteDialect extends SqliteDialect {
  readonly #raw: DatabaseSync;

  constructor(raw: DatabaseSync) {
    super({ database: adapt(raw) });
    this.#raw = raw;
  }

  override createDriver(): Driver {
    return new FifoDriver(super.createDriver(), this.#raw);
  }
}
