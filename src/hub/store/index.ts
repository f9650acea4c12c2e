// Opens the hub's store from a location: a file path (or ':memory:') for embedded SQLite, or a
// postgres:// URL for PostgreSQL shared by several hub replicas. Same Kysely schema, so no caller changes.

import { type Engine, type StoreSql, storeSql } from './dialect.ts';
import { migrateToLatest } from './migrations.ts';
import { openPostgres, type PostgresOptions, withAdvisoryLock } from './postgres.ts';
import type { Db } from './schema.ts';
import { openSqlite, type QueryObserver } from './sqlite.ts';

export interface Store {
  db: Db;
  engine: Engine;
  /** the SQL fragments that differ by engine */
  sql: StoreSql;
  /** PostgreSQL only: where replicas open their session connection (notifications, leadership) */
  url?: string;
  close(): Promise<void>;
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

/** Serializes migrations across replicas starting at once (any constant no other program uses). */
const migrationLock = 0x6f75_7470; // "outp"

export async function openStore(
  location: string,
  onQuery?: QueryObserver,
  postgres: PostgresOptions = {},
): Promise<Store> {
  if (isPostgresUrl(location)) {
    const { db } = openPostgres(location, postgres, onQuery);
    try {
      await withAdvisoryLock(location, migrationLock, () => migrateToLatest(db as never));
    } catch (e) {
      await db.destroy();
      throw e;
    }
    return { db, engine: 'postgres', sql: storeSql('postgres'), url: location, close: () => db.destroy() };
  }
  const db = openSqlite(location, onQuery);
  await migrateToLatest(db as never);
  return { db, engine: 'sqlite', sql: storeSql('sqlite'), close: () => db.destroy() };
}
