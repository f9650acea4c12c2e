// The embedded store: Node's built-in SQLite (no native addon to build) behind Kysely's SQLite dialect.
// WAL mode lets readers proceed while the single writer commits.

import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { Kysely, type SqliteDatabase, SqliteDialect, type SqliteStatement } from 'kysely';
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
    dialect: new SqliteDialect({ database: adapt(raw) }),
    ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.queryDurationMillis / 1000) } : {}),
  });
}
