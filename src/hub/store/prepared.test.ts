import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { type Arg, preparedQuery, preparedSql } from './prepared.ts';
import type { Db } from './schema.ts';
import { openSqlite } from './sqlite.ts';

test('a prepared query is built once and runs with each call’s arguments, in and out of transactions', async () => {
  const db = openSqlite(':memory:') as unknown as Db;
  try {
    await sql`create table sites (id text primary key, name text, last_report_seq integer)`.execute(db);
    await sql`insert into sites values ('a', 'alpha', 1), ('b', 'beta', 2), ('c', 'gamma', 3)`.execute(db);
    const plain = <T extends object>(rows: T[]) => rows.map((r) => ({ ...r }));
    let builds = 0;
    const byIdAbove = preparedQuery((q, arg: Arg<{ id: string; seq: number }>) => {
      builds++;
      return q
        .selectFrom('sites')
        .select(['name', 'last_report_seq'])
        .where('id', '=', arg('id'))
        .where('last_report_seq', '>=', arg('seq'))
        .where('name', '<>', 'never');
    });
    assert.deepEqual(plain((await byIdAbove(db, { id: 'a', seq: 0 })).rows), [
      { name: 'alpha', last_report_seq: 1 },
    ]);
    assert.deepEqual((await byIdAbove(db, { id: 'b', seq: 3 })).rows, []);
    const inTx = await db.transaction().execute(async (tx) => {
      await sql`update sites set last_report_seq = 9 where id = 'c'`.execute(tx);
      return plain((await byIdAbove(tx, { id: 'c', seq: 9 })).rows);
    });
    assert.deepEqual(inTx, [{ name: 'gamma', last_report_seq: 9 }]);
    assert.equal(builds, 1);
    // the constant the builder wrote stays a constant; only arguments move
    const compiled = [...preparedSql.keys()].find((s) => s.includes('"name" <> ?'));
    assert.ok(compiled, 'the compiled SQL is registered for named preparation');
    await assert.rejects(
      byIdAbove(db, { id: 'a' } as { id: string; seq: number }),
      /no value for argument seq/,
    );
  } finally {
    await db.destroy();
  }
});
