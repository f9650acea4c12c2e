import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { postgresServer, withoutPostgres } from '../../../test/support/postgres.ts';
import { openSqlite } from './sqlite.ts';
import { storeUnavailable } from './unavailable.ts';

async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (e) {
    return e;
  }
  assert.fail('the work succeeded');
}

test('a SQLite database that cannot grow is unavailable (503), a bad statement is not', async () => {
  const db = openSqlite(':memory:');
  try {
    await sql`create table t (v text)`.execute(db);
    await sql`pragma max_page_count = 8`.execute(db);
    const full = await failureOf(async () => {
      for (let i = 0; i < 1000; i++) await sql`insert into t values (${'x'.repeat(1000)})`.execute(db);
    });
    const refusal = storeUnavailable(full);
    assert.equal(refusal?.status, 503, String(full));
    assert.equal(refusal?.code, 'unavailable');
    assert.match(refusal!.message, /disk is full/);
    assert.equal(storeUnavailable(await failureOf(() => sql`select * from missing`.execute(db))), undefined);
  } finally {
    await db.destroy();
  }
});

test('a PostgreSQL server that cannot be reached is unavailable (503)', async () => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'outpost', database: 'outpost' });
  const refusal = storeUnavailable(await failureOf(() => client.connect()));
  assert.equal(refusal?.status, 503);
  assert.match(refusal!.message, /ECONNREFUSED/);
});

test('a PostgreSQL session ended by the server is unavailable (503), a bad statement is not', {
  skip: withoutPostgres,
}, async () => {
  const client = new pg.Client({ connectionString: postgresServer });
  client.on('error', () => {});
  await client.connect();
  try {
    assert.equal(storeUnavailable(await failureOf(() => client.query('select * from missing'))), undefined);
    const ended = await failureOf(() => client.query('select pg_terminate_backend(pg_backend_pid())'));
    assert.equal(storeUnavailable(ended)?.status, 503, String(ended));
    assert.equal(storeUnavailable(new Error('something else')), undefined);
  } finally {
    await client.end().catch(() => {});
  }
});
