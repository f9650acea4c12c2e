// A fresh PostgreSQL database per test on the cluster scripts/postgres-fixture.sh starts (./scripts/test
// exports its URL as OUTPOST_TEST_POSTGRES). Without the variable PostgreSQL tests skip, saying why.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The fixture cluster's URL, or undefined when the test runs without one. */
export const postgresServer: string | undefined = process.env.OUTPOST_TEST_POSTGRES || undefined;

/** For test(…, { skip }): false when PostgreSQL is there, else the reason the test is skipped. */
export const withoutPostgres: string | false = postgresServer
  ? false
  : 'OUTPOST_TEST_POSTGRES is not set: run ./scripts/test, or export OUTPOST_TEST_POSTGRES=$(bash scripts/postgres-fixture.sh)';

/** The engines a store test loops over: describe(`… on ${engine}`, { skip }, …). */
export const storeEngines = [
  { engine: 'sqlite', skip: false as const },
  { engine: 'postgres', skip: withoutPostgres },
] as const;

export interface TestDatabase {
  url: string;
  /** drops the database, ending any session still connected to it */
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresServer });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!postgresServer) throw new Error(withoutPostgres as string);
  const name = `outpost_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`create database ${name}`));
  const url = new URL(postgresServer);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}
