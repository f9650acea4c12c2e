// The embedded store: Node's built-in SQLite (no native addon to build) behind Kysely's SQLite dialect.
// WAL mode lets readers proceed while the single writer commits.

import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { Kysely, type SqliteDatabase, SqliteDialect, type SqliteStatement } from 'kysely';
import type { Database } from './schema.ts';

/** Adapts node:sqlite's DatabaseSync to the better-sqlite3 shape Kysely's SqliteDialect drives. */
function adapt(db: DatabaseSync): SqliteDatabase {
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      const stmt: StatementSync = db.prepare(sql);
      const reader = stmt.columns().length > 0;
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
