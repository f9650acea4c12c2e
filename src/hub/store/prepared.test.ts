import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import {
  type Arg,
  type PositionalArgs,
  paddedArgs,
  paddedSize,
  preparedPerSize,
  preparedQuery,
  preparedSql,
  sizePieces,
} from './prepared.ts';
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

test('a statement per size is built once for each size, and padding with a repeated id changes no result', async () => {
  const db = openSqlite(':memory:') as unknown as Db;
  try {
    await sql`create table sites (id text primary key, name text)`.execute(db);
    await sql`insert into sites values ('a', 'alpha'), ('b', 'beta'), ('c', 'gamma'), ('d', 'delta')`.execute(
      db,
    );
    const built: number[] = [];
    const namesOf = preparedPerSize((q, arg: Arg<PositionalArgs<string>>, size) => {
      built.push(size);
      return q
        .selectFrom('sites')
        .select('name')
        .where(
          'id',
          'in',
          Array.from({ length: size }, (_, i) => arg(`${i}`)),
        )
        .orderBy('name');
    });
    const names = async (ids: string[]) => {
      const size = paddedSize(ids.length);
      return (await namesOf(size)(db, paddedArgs(ids, size))).rows.map((r) => r.name);
    };
    assert.deepEqual(await names(['a', 'c', 'd']), ['alpha', 'delta', 'gamma']);
    assert.deepEqual(await names(['b', 'c', 'a']), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await names(['b']), ['beta']);
    assert.deepEqual(await names(['d', 'a']), ['alpha', 'delta']);
    assert.deepEqual(built, [4, 1, 2]);
  } finally {
    await db.destroy();
  }
});

test('counts round up to a power of two, or split into powers of two that sum to them', () => {
  assert.deepEqual([0, 1, 2, 3, 5, 8, 9, 256, 257].map(paddedSize), [1, 1, 2, 4, 8, 8, 16, 256, 512]);
  assert.deepEqual(sizePieces(11, 512), [8, 2, 1]);
  assert.deepEqual(sizePieces(0, 512), []);
  assert.deepEqual(sizePieces(1000, 256), [256, 256, 256, 128, 64, 32, 8]);
  for (let n = 0; n < 600; n++) {
    const pieces = sizePieces(n, 128);
    assert.equal(
      pieces.reduce((a, b) => a + b, 0),
      n,
    );
    assert.ok(pieces.every((p) => p <= 128 && (p & (p - 1)) === 0));
  }
  assert.deepEqual(paddedArgs(['x', 'y', 'z'], 4), ['x', 'y', 'z', 'z']);
  assert.deepEqual(paddedArgs(['x', 'y', 'z'], 2), ['x', 'y']);
});
