// The store for several hub replicas: PostgreSQL through a connection pool behind Kysely's PostgreSQL
// dialect. Values read back as SQLite gives them (counts and bigints as numbers), so no caller changes.

import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { preparedSql } from './prepared.ts';
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

/**
 * A connection that runs the hub's prepared queries (prepared.ts) as named prepared statements: pg parses
 * each once per connection and PostgreSQL keeps its plan, instead of parsing and planning every call.
 */
class PreparingClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [text, values] = args;
    const name = typeof text === 'string' ? preparedSql.get(text) : undefined;
    if (name !== undefined && (values === undefined || Array.isArray(values))) {
      return (super.query as (...a: unknown[]) => never)({ name, text, values }, ...args.slice(2));
    }
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}

export function openPostgres(
  url: string,
  opts: PostgresOptions = {},
  onQuery?: QueryObserver,
): { db: Kysely<Database>; pool: pg.Pool } {
  const pool = new pg.Pool({
    ...clientConfig(url, opts),
    Client: PreparingClient,
    max: opts.poolSize ?? postgresDefaults.poolSize,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // an idle pooled connection that the server drops is replaced on next use; the error must not crash the hub
  pool.on('error', () => {});
  const db = new RetryingKysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.queryDurationMillis / 1000) } : {}),
  });
  return { db, pool };
}

/** SQLSTATEs after which the whole transaction may simply run again: deadlock, serialization failure. */
const retryable = new Set(['40P01', '40001']);
const maxAttempts = 5;

/** Whether an error is PostgreSQL aborting a transaction that is safe to run again. */
export function isRetryable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && retryable.has((e as { code?: string }).code ?? '');
}

/**
 * Kysely whose transactions run again when PostgreSQL aborts them for a deadlock or a serialization
 * failure (replicas ingesting reports while another places a bundle touch the same aggregate rows in
 * different orders). Everything the transaction wrote was rolled back, so running it again is safe; a
 * short random pause lets the other one finish first.
 */
class RetryingKysely<DB> extends Kysely<DB> {
  override transaction(): ReturnType<Kysely<DB>['transaction']> {
    const builder = super.transaction();
    return new Proxy(builder, {
      get(target, key) {
        if (key === 'execute') {
          return async <T>(fn: Parameters<typeof target.execute<T>>[0]): Promise<T> => {
            for (let attempt = 1; ; attempt++) {
              try {
                return await target.execute(fn);
              } catch (e) {
                if (!isRetryable(e) || attempt >= maxAttempts) throw e;
                await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
              }
            }
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
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
