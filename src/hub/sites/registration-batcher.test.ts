// The registration batcher on a real SQLite store: a group's record is written once, in the group's
// transaction, for exactly the registrations that stood; a record that cannot be written stores nothing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import type { Db } from '../store/schema.ts';
import { openSqlite } from '../store/sqlite.ts';
import { RegistrationBatcher } from './registration-batcher.ts';

async function scratchStore(): Promise<Db> {
  const db = openSqlite(':memory:') as unknown as Db;
  await sql`create table machines (name text primary key)`.execute(db);
  await sql`create table group_records (names text not null)`.execute(db);
  return db;
}

/** A registration that inserts its machine (a taken name fails it) and leaves its name as its record. */
const registration = (name: string) => async (tx: Db) => {
  await sql`insert into machines values (${name})`.execute(tx);
  return { result: name, placed: name, record: name };
};

const rows = async (db: Db, query: ReturnType<typeof sql>) =>
  (await query.execute(db)).rows.map((r) => ({ ...(r as object) }));

test('a group writes one record of the registrations that stood, and places only those', async () => {
  const db = await scratchStore();
  try {
    await sql`insert into machines values ('taken')`.execute(db);
    const placements: string[][] = [];
    const batcher = new RegistrationBatcher<string>(
      (work) => db.transaction().execute(work),
      async (tx, records) => {
        await sql`insert into group_records values (${records.join(',')})`.execute(tx);
      },
      async (placed) => {
        placements.push(placed);
      },
    );
    // submitted in one turn, they form one group; the refused one sits between two that stand
    const outcomes = await Promise.allSettled([
      batcher.submit(registration('a')),
      batcher.submit(registration('taken')),
      batcher.submit(registration('b')),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(await rows(db, sql`select names from group_records`), [{ names: 'a,b' }]);
    assert.deepEqual(placements, [['a', 'b']]);
    assert.deepEqual(await rows(db, sql`select name from machines order by name`), [
      { name: 'a' },
      { name: 'b' },
      { name: 'taken' },
    ]);
  } finally {
    await db.destroy();
  }
});

test('a group whose record cannot be written stores none of its registrations and fails each', async () => {
  const db = await scratchStore();
  try {
    let placed = false;
    const batcher = new RegistrationBatcher<string>(
      (work) => db.transaction().execute(work),
      async (tx) => {
        await sql`insert into group_records values (null)`.execute(tx);
      },
      async () => {
        placed = true;
      },
    );
    const outcomes = await Promise.allSettled([
      batcher.submit(registration('c')),
      batcher.submit(registration('d')),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected'],
    );
    assert.match(String((outcomes[0] as PromiseRejectedResult).reason), /NOT NULL/);
    assert.deepEqual(await rows(db, sql`select name from machines`), []);
    assert.equal(placed, false);
  } finally {
    await db.destroy();
  }
});

test('a group where every registration is refused writes no record and places nothing', async () => {
  const db = await scratchStore();
  try {
    await sql`insert into machines values ('taken')`.execute(db);
    let calls = 0;
    const batcher = new RegistrationBatcher<string>(
      (work) => db.transaction().execute(work),
      async () => {
        calls++;
      },
      async () => {
        calls++;
      },
    );
    await assert.rejects(batcher.submit(registration('taken')), /UNIQUE/);
    assert.equal(calls, 0);
  } finally {
    await db.destroy();
  }
});
