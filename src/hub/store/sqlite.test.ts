import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openSqlite } from './sqlite.ts';

test('queries queued on the one connection run first come, first served, and a failing one blocks none', async () => {
  const db = openSqlite(':memory:');
  try {
    await sql`create table t (n integer)`.execute(db);
    const order: number[] = [];
    const work = Array.from({ length: 2000 }, (_, i) =>
      i % 500 === 7
        ? sql`select * from missing_table`.execute(db).then(
            () => assert.fail('a query on a missing table succeeded'),
            () => order.push(i),
          )
        : sql`insert into t values (${i})`.execute(db).then(() => order.push(i)),
    );
    await Promise.all(work);
    assert.deepEqual(
      order,
      Array.from({ length: 2000 }, (_, i) => i),
    );
    const rows = await sql<{ n: number }>`select count(*) as n from t`.execute(db);
    assert.equal(rows.rows[0]!.n, 2000 - 4);
  } finally {
    await db.destroy();
  }
});

test('transactions and single queries interleave without losing an update', async () => {
  const db = openSqlite(':memory:');
  try {
    await sql`create table c (id integer primary key, v integer)`.execute(db);
    await sql`insert into c values (1, 0)`.execute(db);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        i % 2 === 0
          ? db.transaction().execute(async (tx) => {
              const { rows } = await sql<{ v: number }>`select v from c where id = 1`.execute(tx);
              await sql`update c set v = ${rows[0]!.v + 1} where id = 1`.execute(tx);
            })
          : sql`update c set v = v + 1 where id = 1`.execute(db),
      ),
    );
    const { rows } = await sql<{ v: number }>`select v from c where id = 1`.execute(db);
    assert.equal(rows[0]!.v, 300);
  } finally {
    await db.destroy();
  }
});

test('a transaction that fills the database fails with the full-disk error, not a failed rollback', async () => {
  const db = openSqlite(':memory:');
  try {
    await sql`create table t (v text)`.execute(db);
    await sql`pragma max_page_count = 8`.execute(db);
    const failure = await db
      .transaction()
      .execute(async (tx) => {
        for (let i = 0; i < 1000; i++) await sql`insert into t values (${'x'.repeat(1000)})`.execute(tx);
      })
      .then(
        () => assert.fail('a transaction past max_page_count committed'),
        (e: Error & { errcode?: number }) => e,
      );
    assert.equal((failure.errcode ?? 0) & 0xff, 13, failure.message);
    const rows = await sql<{ n: number }>`select count(*) as n from t`.execute(db);
    assert.equal(rows.rows[0]!.n, 0, 'nothing of the failed transaction is kept');
    await sql`insert into t values ('after')`.execute(db);
  } finally {
    await db.destroy();
  }
});
