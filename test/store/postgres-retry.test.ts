// Transactions PostgreSQL aborts for a deadlock run again: two transactions lock two rows in opposite
// orders, so the server must kill one (SQLSTATE 40P01); the store runs it again and both land.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { openPostgres } from '../../src/hub/store/postgres.ts';
import { createTestDatabase, type TestDatabase, withoutPostgres } from '../support/postgres.ts';

let database: TestDatabase | undefined;
before(async () => {
  if (!withoutPostgres) database = await createTestDatabase();
});
after(async () => database?.drop());

test('a transaction PostgreSQL kills for a deadlock runs again and both writers land', {
  skip: withoutPostgres,
}, async () => {
  const { db } = openPostgres(database!.url, { poolSize: 4 });
  try {
    await sql`create table acct (id int primary key, v int not null)`.execute(db);
    await sql`insert into acct values (1, 0), (2, 0)`.execute(db);
    let attempts = 0;
    // both hold their first row before either asks for its second: one of them must be the victim
    let arrived = 0;
    let release!: () => void;
    const bothHoldOne = new Promise<void>((r) => {
      release = r;
    });
    const writer = (first: number, second: number) =>
      db.transaction().execute(async (tx) => {
        attempts++;
        await sql`update acct set v = v + 1 where id = ${first}`.execute(tx);
        if (++arrived === 2) release();
        await bothHoldOne;
        await sql`update acct set v = v + 10 where id = ${second}`.execute(tx);
      });
    await Promise.all([writer(1, 2), writer(2, 1)]);
    assert.equal(attempts, 3, 'one of the two ran twice');
    const { rows } = await sql<{ id: number; v: number }>`select id, v from acct order by id`.execute(db);
    assert.deepEqual(
      rows.map((r) => r.v),
      [11, 11],
      'each writer added 1 to its first row and 10 to its second, once',
    );
  } finally {
    await db.destroy();
  }
});
