// Opens the hub's store from a location: a file path (or ':memory:') for embedded SQLite. PostgreSQL
// (postgres://…) plugs in here with the same Kysely schema, so no caller changes.

import { OutpostError } from '../../model/errors.ts';
import { migrateToLatest } from './migrations.ts';
import type { Db } from './schema.ts';
import { openSqlite, type QueryObserver } from './sqlite.ts';

export interface Store {
  db: Db;
  engine: 'sqlite';
  close(): Promise<void>;
}

export async function openStore(location: string, onQuery?: QueryObserver): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new OutpostError('request_invalid', 'PostgreSQL is not supported yet; use a SQLite file path');
  }
  const db = openSqlite(location, onQuery);
  await migrateToLatest(db as never);
  return { db, engine: 'sqlite', close: () => db.destroy() };
}
