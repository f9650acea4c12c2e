// The store for several hub replicas: PostgreSQL through a connection pool behind Kysely's PostgreSQL
// dialect. Values read back as SQLite gives them (counts and bigints as numbers), so no caller changes.

import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import type { QueryObserver } from './sqlite.ts';

export interface PostgresOptions {
  /** most connections this replica holds (default 10) */
  poolSize?: number;
  /** the server cancels a statement running longer than this (default 30 s) */
  statementTimeoutMs?: number;
  /** the server ends a session idle inside a transaction this long (default 60 s) */
  idleInTransactionTimeoutMs?: number;
}

export const postgresDefaults = {
  poolSize: 10,
  statementTimeoutMs: 30_000,
  idleInTransactionTimeoutMs: 60_000,
};

const INT8 = 20;
const NUMERIC = 1700;

/**
 * count(*) and bigint columns (the events id) come back as numbers, as they do from SQLite; every value
 * the hub stores stays far below 2^53. Set on the pool only, never on pg's global parsers.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

/** Client settings for every connection to `url`, pooled or not (the replicas' session connection too). */
export function clientConfig(url: string, opts: PostgresOptions = {}): pg.ClientConfig {
  const o = { ...postgresDefaults, ...opts };
  return {
    connectionString: url,
    types,
    statement_timeout: o.statementTimeoutMs,
    idle_in_transaction_session_timeout: o.idleInTransactionTimeoutMs,
    // the client gives up a little after the server would have cancelled, e.g. when the network is gone
    query_timeout: o.statementTimeoutMs + 5_000,
    application_name: 'outpost-hub',
  };
}

export function openPostgres(
  url: string,
  opts: PostgresOptions = {},
  onQuery?: QueryObserver,
): { db: Kysely<Database>; pool: pg.Pool } {
  const pool = new pg.Pool({
    ...clientConfig(url, opts),
    max: opts.poolSize ?? postgresDefaults.poolSize,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // an idle pooled connection that the server drops is replaced on next use; the error must not crash the hub
  pool.on('error', () => {});
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.queryDurationMillis / 1000) } : {}),
  });
  return { db, pool };
}

/**
 * Runs `fn` while this process holds a session-level advisory lock on its own connection: replicas that
 * start at once migrate one after the other, and the later ones find nothing left to do.
 */
export async function withAdvisoryLock<T>(url: string, key: number, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client(clientConfig(url, { statementTimeoutMs: 600_000 }));
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [key]);
    try {
      return await fn();
    } finally {
      await client.query('select pg_advisory_unlock($1)', [key]);
    }
  } finally {
    await client.end();
  }
}
