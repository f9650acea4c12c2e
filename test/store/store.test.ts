// The store's behaviour, the same suite on SQLite and on PostgreSQL: every migration applies, values
// read back alike (numbers stay numbers), and the hub's writers and readers that lean on the store
// (sites, tokens, bundles and revisions, placement, reports with aggregates and events, queries, rollout
// compare-and-set) give identical answers on both engines.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { tickRollout } from '../../src/hub/rollout/controller.ts';
import { addDeltas, type CellCounts, cellId } from '../../src/hub/status/aggregate.ts';
import { foldDeltas, readAggregates, writeDeltas } from '../../src/hub/status/aggregate-store.ts';
import { emitEvents, eventsAfter } from '../../src/hub/status/events.ts';
import { LastSeen } from '../../src/hub/status/last-seen.ts';
import { openStore } from '../../src/hub/store/index.ts';
import { migrationNames } from '../../src/hub/store/migrations.ts';
import { type Arg, preparedQuery } from '../../src/hub/store/prepared.ts';
import { bundleFile } from '../support/fleet.ts';
import {
  adminToken,
  type MemoryHub,
  memoryHub,
  recountAggregates,
  sortedEntries,
  storedAggregates,
} from '../support/hub.ts';
import { createTestDatabase, storeEngines, type TestDatabase, withoutPostgres } from '../support/postgres.ts';

for (const { engine, skip } of storeEngines) {
  describe(`store on ${engine}`, { skip }, () => {
    let database: TestDatabase | undefined;
    let hub: MemoryHub;
    const location = () => database?.url ?? ':memory:';

    before(async () => {
      if (engine === 'postgres') database = await createTestDatabase();
      hub = await memoryHub({ database: location(), aggregateLabels: ['region'] });
    });

    after(async () => {
      await hub?.close();
      await database?.drop();
    });

    test('applies every migration and reports its engine', async () => {
      assert.equal(hub.ctx.store.engine, engine);
      const applied = await hub.ctx.store.db
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute();
      assert.deepEqual(applied.map((r) => (r as { name: string }).name).sort(), migrationNames);
    });

    test('counts, maxima and event ids read back as numbers', async () => {
      await emitEvents(hub.ctx, [
        { type: 'approved', site: 'n1', message: 'one' },
        { type: 'approved', site: 'n2', message: 'two' },
      ]);
      const count = await hub.ctx.store.db
        .selectFrom('events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(typeof count.n, 'number');
      const events = await eventsAfter(hub.ctx, 0, { site: 'n2' }, 10);
      assert.equal(events.length, 1);
      assert.equal(typeof events[0]!.id, 'number');
      const all = await eventsAfter(hub.ctx, 0, {}, 100);
      assert.deepEqual(
        all.map((e) => e.id),
        [...all.map((e) => e.id)].sort((x, y) => x - y),
        'ids increase',
      );
    });

    test('a prepared query runs with new arguments; on PostgreSQL as a named prepared statement', async () => {
      const siteName = preparedQuery((db, arg: Arg<{ id: string }>) =>
        db.selectFrom('events').select('message').where('site', '=', arg('id')).orderBy('id'),
      );
      await emitEvents(hub.ctx, [
        { type: 'approved', site: 'p1', message: 'first' },
        { type: 'approved', site: 'p2', message: 'second' },
      ]);
      const named = await hub.ctx.store.db.transaction().execute(async (tx) => {
        const first = (await siteName(tx, { id: 'p1' })).rows.map((r) => r.message);
        const second = (await siteName(tx, { id: 'p2' })).rows.map((r) => r.message);
        assert.deepEqual([first, second], [['first'], ['second']]);
        if (engine !== 'postgres') return undefined;
        // the same connection: a transaction holds one
        const { rows } = await sql<{ n: number }>`select count(*) as n from pg_prepared_statements
          where statement like ${'%from "events" where "site" = $1%'}`.execute(tx);
        return rows[0]!.n;
      });
      if (engine === 'postgres') assert.equal(named, 1);
    });

    test('sites, tokens, bundles and placement: registered sites get the bundle their labels select', async () => {
      const west = await hub.register('west-1', { region: 'west' }, { lanes: 4, storeId: 'w1', open: true });
      const east = await hub.register('east-1', { region: 'east' }, { lanes: 2, storeId: 'e1', open: false });
      await hub.register('bare-1', {}, {});
      await hub.applyBundle('pos', { matchLabels: { region: 'west' } });
      assert.deepEqual(
        (await hub.desired(west)).map((d) => [d.bundle, d.revision]),
        [['pos', 1]],
      );
      assert.deepEqual(await hub.desired(east), []);
      await hub.applyBundle('pos', { matchLabels: { region: 'west' } }, { a: '2' });
      assert.deepEqual(
        (await hub.desired(west)).map((d) => [d.bundle, d.revision]),
        [['pos', 2]],
      );
      const { items } = await hub.get<{ items: Array<{ uses: number; maxUses: number }> }>(
        '/api/v1/bootstrap-tokens',
      );
      assert.equal(items.length, 3);
      for (const t of items) assert.deepEqual([t.uses, t.maxUses], [1, 1]);
    });

    test('reports move deployments, aggregates (equal to a recount) and events', async () => {
      const site = await hub.register('west-2', { region: 'west' }, { lanes: 8 });
      const [d] = await hub.desired(site);
      assert.ok(d);
      const ack = await hub.report(site, {
        seq: 1,
        deployments: [
          {
            bundle: 'pos',
            digest: d.digest,
            state: 'Failed',
            message: 'boom',
            counts: { total: 1, applied: 1, ready: 0 },
          },
        ],
      });
      assert.deepEqual(ack, { accepted: true, lastSeq: 1 });
      assert.deepEqual(await hub.report(site, { seq: 1, deployments: [] }), { accepted: false, lastSeq: 1 });
      assert.deepEqual(
        sortedEntries(await storedAggregates(hub.ctx)),
        sortedEntries(await recountAggregates(hub.ctx)),
      );
      const failed = await eventsAfter(hub.ctx, 0, { site: 'west-2', type: ['failed'] }, 10);
      assert.equal(failed.length, 1);
    });

    test('queries filter by where on labels and typed properties, group, aggregate and page', async () => {
      const names = async (body: object) => {
        const r = await hub.post<{ sites: Array<{ name: string }> }>('/api/v1/query', body);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body.sites.map((s) => s.name).sort();
      };
      assert.deepEqual(await names({ where: { field: 'property:lanes', op: '>', value: 3 } }), [
        'west-1',
        'west-2',
      ]);
      assert.deepEqual(await names({ where: { field: 'property:storeId', op: '=', value: 'e1' } }), [
        'east-1',
      ]);
      assert.deepEqual(await names({ where: { field: 'property:open', op: '=', value: true } }), ['west-1']);
      assert.deepEqual(await names({ where: { field: 'property:lanes', op: '=', value: '4' } }), []);
      assert.deepEqual(await names({ where: { field: 'label:region', op: 'notExists' } }), ['bare-1']);
      assert.deepEqual(
        await names({
          selector: { matchExpressions: [{ key: 'region', operator: 'NotIn', values: ['west'] }] },
        }),
        ['bare-1', 'east-1'],
      );
      assert.deepEqual(
        await names({
          where: {
            any: [
              { field: 'name', op: '=', value: 'bare-1' },
              { field: 'property:lanes', op: '<=', value: 2 },
            ],
          },
        }),
        ['bare-1', 'east-1'],
      );

      const grouped = await hub.post<{
        groups: Array<{
          key: Record<string, string | null>;
          count: number;
          values: Record<string, number | null>;
        }>;
      }>('/api/v1/query', {
        groupBy: ['label:region'],
        aggregates: ['sum(property:lanes)', 'max(property:lanes)', 'avg(property:lanes)'],
      });
      assert.equal(grouped.status, 200, JSON.stringify(grouped.body));
      const byRegion = Object.fromEntries(
        grouped.body.groups.map((g) => [String(g.key['label:region']), [g.count, g.values]]),
      );
      assert.deepEqual(byRegion, {
        null: [1, { 'sum(property:lanes)': null, 'max(property:lanes)': null, 'avg(property:lanes)': null }],
        east: [1, { 'sum(property:lanes)': 2, 'max(property:lanes)': 2, 'avg(property:lanes)': 2 }],
        west: [2, { 'sum(property:lanes)': 12, 'max(property:lanes)': 8, 'avg(property:lanes)': 6 }],
      });

      for (const sort of ['name', '-label:region', 'property:lanes']) {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await hub.post<{ sites: Array<{ name: string }>; nextCursor: string | null }>(
            '/api/v1/query',
            {
              sort,
              limit: 1,
              ...(cursor ? { cursor } : {}),
            },
          );
          assert.equal(page.status, 200, JSON.stringify(page.body));
          seen.push(...page.body.sites.map((s) => s.name));
          cursor = page.body.nextCursor ?? undefined;
        } while (cursor);
        assert.deepEqual([...seen].sort(), ['bare-1', 'east-1', 'west-1', 'west-2'], `sorted by ${sort}`);
      }
    });

    test('a rollout step is compare-and-set: ticks racing on one rollout start each site once', async () => {
      const bundle = bundleFile('ro', { matchLabels: { region: 'west' } }, [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'ro', namespace: 'default' },
          data: { v: '1' },
        },
      ]);
      assert.equal((await hub.post('/api/v1/bundles/apply', bundle)).status, 200);
      const next = bundleFile(
        'ro',
        { matchLabels: { region: 'west' } },
        [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'ro', namespace: 'default' },
            data: { v: '2' },
          },
        ],
        { rollout: { waves: [{ name: 'all', percent: 100 }], maxConcurrent: 10, bakeSeconds: 0 } },
      );
      // Online, so a step starts them (an Offline site is skipped, not started)
      await hub.ctx.store.db.updateTable('sites').set({ connectivity: 'Online' }).execute();
      const applied = await hub.post<{ rollout: string }>('/api/v1/bundles/apply', next);
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
      const id = applied.body.rollout;
      await Promise.all(Array.from({ length: 4 }, () => tickRollout(hub.ctx, id)));
      const started = await hub.ctx.store.db
        .selectFrom('events')
        .select('details')
        .where('type', '=', 'rollout_progress')
        .where('bundle', '=', 'ro')
        .execute();
      // one wave of two sites: one step starts both and says so once; a racing step that also started
      // them would say it again
      const startedTold = started.filter(
        (e) => (JSON.parse(e.details) as { kind: string }).kind === 'SitesStarted',
      );
      assert.equal(startedTold.length, 1, 'the wave was started by one step');
      const rows = await hub.ctx.store.db
        .selectFrom('rollout_sites')
        .selectAll()
        .where('rollout_id', '=', id)
        .execute();
      assert.equal(rows.length, 2);
      assert.ok(rows.every((row) => row.started_at !== null));
    });

    test('contacts are stored together and never move a site’s last contact back', async () => {
      const a = await hub.register('seen-a', {});
      const b = await hub.register('seen-b', {});
      const seenOf = async (id: string) =>
        (
          await hub.ctx.store.db
            .selectFrom('sites')
            .select('last_seen_at')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).last_seen_at;
      const later = '2999-01-01T00:00:02.000Z';
      await hub.ctx.store.db
        .updateTable('sites')
        .set({ last_seen_at: later })
        .where('id', '=', b.siteId)
        .execute();
      const lastSeen = new LastSeen(hub.ctx.store.db);
      lastSeen.record(a.siteId, '2999-01-01T00:00:01.000Z');
      lastSeen.record(a.siteId, '2999-01-01T00:00:00.500Z'); // older than what was heard: kept out
      lastSeen.record(b.siteId, '2999-01-01T00:00:01.000Z'); // older than what is stored
      assert.equal(lastSeen.pending, 2);
      await lastSeen.flush();
      assert.equal(lastSeen.pending, 0);
      assert.equal(await seenOf(a.siteId), '2999-01-01T00:00:01.000Z');
      assert.equal(await seenOf(b.siteId), later, 'a later contact (another replica’s) stays');
    });

    test('a contact flush skips a site whose row another transaction holds and stores it on a later flush', {
      skip: engine !== 'postgres' && 'PostgreSQL only: SQLite has one writer at a time',
    }, async () => {
      const sites = [await hub.register('held-a', {}), await hub.register('held-b', {})];
      const c = await hub.register('held-c', {});
      const [a, b] = sites.map((s) => s.siteId).sort() as [string, string];
      const seenOf = async (id: string) =>
        (
          await hub.ctx.store.db
            .selectFrom('sites')
            .select('last_seen_at')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).last_seen_at;
      const t = (s: number) => `3000-01-01T00:00:0${s}.000Z`;
      // a report batch or placement chunk of another replica holds b's row until it commits
      const other = new pg.Client({ connectionString: database!.url });
      const watcher = new pg.Client({ connectionString: database!.url });
      await other.connect();
      await watcher.connect();
      try {
        await other.query('begin');
        await other.query('select id from sites where id = $1 for update', [b]);
        const lastSeen = new LastSeen(hub.ctx.store.db);
        lastSeen.record(a, t(1));
        lastSeen.record(b, t(1));
        lastSeen.record(c.siteId, t(1));
        const flushed = await doneOrWaiting(lastSeen.flush(), watcher, other);
        assert.equal(flushed, 'done', 'the flush waited for the held row');
        assert.equal(await seenOf(a), t(1));
        assert.equal(await seenOf(c.siteId), t(1));
        assert.notEqual(await seenOf(b), t(1), 'the held row is not written');
        assert.equal(lastSeen.pending, 1, 'the held site’s contact stays queued');
        // heard again meanwhile, later, and earlier: the latest wins over the one kept back
        lastSeen.record(b, t(3));
        lastSeen.record(b, t(2));
        await other.query('commit');
        await lastSeen.flush();
        assert.equal(lastSeen.pending, 0);
        assert.equal(await seenOf(b), t(3), 'the newest contact, once the row was free');
      } finally {
        await other.end();
        await watcher.end();
      }
    });

    test('a report batch takes its sites’ rows before it writes any deployment row', {
      skip: engine !== 'postgres' && 'PostgreSQL only: SQLite has no row locks',
    }, async () => {
      const site = await hub.register('lock-order-1', { lockOrder: 'yes' });
      await hub.applyBundle('lock-order', { matchLabels: { lockOrder: 'yes' } });
      const [wanted] = await hub.desired(site);
      const other = new pg.Client({ connectionString: database!.url });
      const watcher = new pg.Client({ connectionString: database!.url });
      await other.connect();
      await watcher.connect();
      try {
        // a placement chunk of another replica holds the site's row, as it does until it commits
        await other.query('begin');
        await other.query('select id from sites where id = $1 for update', [site.siteId]);
        const report = hub.report(site, {
          seq: 1,
          deployments: [
            {
              bundle: 'lock-order',
              digest: wanted!.digest,
              state: 'Ready',
              counts: { total: 1, applied: 1, ready: 1 },
            },
          ],
        });
        const waiting = await doneOrWaiting(
          report.then(() => undefined),
          watcher,
          other,
        );
        assert.ok(waiting !== 'done', 'the report waits for the held site row');
        assert.match(
          waiting.query,
          /for update/i,
          `the batch waits on its read of the sites: ${waiting.query}`,
        );
        // the batch holds none of its deployment rows yet: a chunk that holds the site row can take them
        await watcher.query('begin');
        const free = await watcher.query(
          'select state from deployments where site_id = $1 and bundle = $2 for update nowait',
          [site.siteId, 'lock-order'],
        );
        assert.equal(free.rows[0]?.state, 'Pending', 'no deployment row of the batch written');
        await watcher.query('rollback');
        await other.query('commit');
        assert.deepEqual(await report, { accepted: true, lastSeq: 1 });
        const row = await hub.ctx.store.db
          .selectFrom('deployments')
          .select('state')
          .where('site_id', '=', site.siteId)
          .where('bundle', '=', 'lock-order')
          .executeTakeFirstOrThrow();
        assert.equal(row.state, 'Ready');
      } finally {
        await other.end();
        await watcher.end();
      }
    });

    test('count deltas of any number of cells add up, in one transaction or several, pending or folded', async () => {
      const db = hub.ctx.store.db;
      // 1,300 cells: written as pieces of 512, 512, 256, 16 and 4; the second write overlaps half of them
      const first: CellCounts = new Map();
      for (let i = 0; i < 1300; i++) first.set(cellId('label', `deltas=${i}`, 'sites'), i + 1);
      const second: CellCounts = new Map();
      for (let i = 650; i < 1371; i++) second.set(cellId('label', `deltas=${i}`, 'sites'), i % 2 ? -1 : 3);
      // earlier tests' changes out of the way, so the fold below counts this test's alone
      await foldDeltas(db);
      await writeDeltas(db, first);
      await db.transaction().execute((tx) => writeDeltas(tx, second));
      const expected = new Map(first);
      addDeltas(expected, second);
      const read = async () => {
        const rows = (await readAggregates(db, 'label')).filter((r) => r.key.startsWith('deltas='));
        return new Map(rows.map((r) => [cellId('label', r.key, 'sites'), r.count]));
      };
      const assertExpected = (stored: Map<string, number>) => {
        assert.equal(stored.size, 1371);
        for (const [id, n] of stored) assert.equal(n, expected.get(id) ?? 0, id);
      };
      assertExpected(await read());
      // SQLite wrote the cells at once; PostgreSQL kept 2,021 changes pending until the fold
      assert.equal(await foldDeltas(db), engine === 'postgres' ? 1300 + 721 : 0);
      assertExpected(await read());
      const cells = await db
        .selectFrom('status_aggregates')
        .select(['key', 'count'])
        .where('dimension', '=', 'label')
        .where('key', 'like', 'deltas=%')
        .execute();
      assertExpected(new Map(cells.map((r) => [cellId('label', r.key, 'sites'), Number(r.count)])));
      await db.deleteFrom('status_aggregates').where('key', 'like', 'deltas=%').execute();
    });

    test('a writer moving the fleet-wide cells never waits for another writer to commit (PostgreSQL)', {
      skip: engine !== 'postgres' && 'SQLite has one writer at a time',
    }, async () => {
      const db = hub.ctx.store.db;
      const cell = cellId('fleet', '', 'metric:unlocked');
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let wrote!: () => void;
      const firstWrote = new Promise<void>((r) => {
        wrote = r;
      });
      const first = db.transaction().execute(async (tx) => {
        await writeDeltas(tx, new Map([[cell, 1]]));
        wrote();
        await held;
      });
      await firstWrote;
      // while the first transaction is open: a row lock wait fails here instead of hanging the test
      await db.transaction().execute(async (tx) => {
        await sql`set local lock_timeout = '300ms'`.execute(tx);
        await writeDeltas(tx, new Map([[cell, 2]]));
      });
      const unlocked = async () =>
        (await readAggregates(db, 'fleet')).find((r) => r.metric === 'metric:unlocked')?.count;
      assert.equal(await unlocked(), 2, 'the open transaction’s change is not counted yet');
      release();
      await first;
      assert.equal(await unlocked(), 3);
      await foldDeltas(db);
      assert.equal(await unlocked(), 3);
      await db.deleteFrom('status_aggregates').where('metric', '=', 'metric:unlocked').execute();
    });

    test('folds running beside writers count every committed change once, and readers never see one twice', async () => {
      const db = hub.ctx.store.db;
      const metric = 'metric:folded';
      const read = async () =>
        (await readAggregates(db, 'fleet')).find((r) => r.metric === metric)?.count ?? 0;
      let writing = true;
      // each folder's own reads, in the order it made them
      const seen: number[][] = [[], []];
      const writers = Promise.all(
        Array.from({ length: 6 }, async (_, w) => {
          for (let i = 0; i < 20; i++) {
            await db
              .transaction()
              .execute((tx) => writeDeltas(tx, new Map([[cellId('fleet', '', metric), w + 1]])));
          }
        }),
      ).finally(() => {
        writing = false;
      });
      const foldsAndReads = Promise.all(
        seen.map(async (reads) => {
          while (writing) {
            await foldDeltas(db);
            reads.push(await read());
          }
        }),
      );
      await Promise.all([writers, foldsAndReads]);
      // every change is positive: a change counted twice, or dropped between pending and folded, would
      // show as a count above the total or a count that went down
      const total = 20 * (1 + 2 + 3 + 4 + 5 + 6);
      for (const reads of seen) {
        for (let i = 1; i < reads.length; i++) assert.ok(reads[i]! >= reads[i - 1]!, `read ${i} went down`);
        assert.ok(reads.every((n) => n <= total));
      }
      assert.equal(await read(), total);
      await foldDeltas(db);
      assert.equal(await read(), total);
      const pending = await db.selectFrom('status_aggregate_deltas').select('count').execute();
      assert.equal(pending.length, 0);
      await db.deleteFrom('status_aggregates').where('metric', '=', metric).execute();
    });

    test('the reports a site dropped are kept as the agent counts them, over reinstalls, and summed in /metrics', async () => {
      const dropped = async () => {
        const site = await hub.get<{ droppedReports: number }>('/api/v1/sites/drops-1');
        const metrics = await hub.app.inject({
          method: 'GET',
          url: '/metrics',
          headers: { authorization: `Bearer ${adminToken}` },
        });
        const total = /^outpost_reports_dropped_at_sites_total (\d+)$/m.exec(metrics.body)?.[1];
        return { site: site.droppedReports, fleet: Number(total) };
      };
      const first = await hub.register('drops-1', { drops: 'yes' });
      assert.deepEqual(await dropped(), { site: 0, fleet: 0 });
      await hub.report(first, { seq: 1, deployments: [], droppedReports: 3 });
      await hub.report(first, { seq: 2, deployments: [] });
      assert.deepEqual(await dropped(), { site: 3, fleet: 3 }, 'a report without a count changes nothing');
      await hub.report(first, { seq: 3, deployments: [], droppedReports: 7 });
      await hub.report(first, { seq: 2, deployments: [], droppedReports: 1 });
      assert.deepEqual(await dropped(), { site: 7, fleet: 7 }, 'a replayed report changes nothing');
      // the same machine installed again: its agent counts from 0, on top of the 7 already counted
      const second = await hub.register('drops-1', { drops: 'yes' });
      await hub.report(second, { seq: 1, deployments: [], droppedReports: 2 });
      assert.deepEqual(await dropped(), { site: 9, fleet: 9 });
      const other = await hub.register('drops-2', { drops: 'yes' });
      await hub.report(other, { seq: 1, deployments: [], droppedReports: 5 });
      assert.equal((await dropped()).fleet, 14);
    });
  });
}

describe('opening a store', () => {
  test('a PostgreSQL URL that cannot be reached fails with the reason', {
    skip: withoutPostgres,
  }, async () => {
    const url = new URL(process.env.OUTPOST_TEST_POSTGRES!);
    url.pathname = '/outpost_no_such_database';
    await assert.rejects(openStore(url.toString()), /outpost_no_such_database/);
  });
});

/**
 * Whether `work` finishes ('done') or is seen waiting for a lock `holder` holds (the waiting
 * statement), watched through pg_blocking_pids from a connection of its own.
 */
async function doneOrWaiting(
  work: Promise<unknown>,
  watcher: pg.Client,
  holder: pg.Client,
): Promise<'done' | { query: string }> {
  const pid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  let done = false;
  const finished = work.then(() => {
    done = true;
    return 'done' as const;
  });
  const blocked = (async () => {
    while (!done) {
      const { rows } = await watcher.query<{ query: string }>(
        'select query from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
        [pid],
      );
      if (rows[0]) return { query: rows[0].query };
      await new Promise((r) => setTimeout(r, 20));
    }
    return 'done' as const;
  })();
  return Promise.race([finished, blocked]);
}
