// Fleet-wide placement in chunks, on SQLite and on PostgreSQL: what a reader sees between chunks is
// consistent (each site's desired digest matches its deployments, the aggregates match a recount, no
// site is ahead of its rollout), a run that started before a newer change cannot undo it, and a run cut
// short is taken up again by the leader.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { applyBundle } from '../../src/hub/bundles/bundles.ts';
import { storeRevision } from '../../src/hub/bundles/revisions.ts';
import { markPlacementDue, placeOverdue } from '../../src/hub/placement/place.ts';
import { tickRollouts } from '../../src/hub/rollout/controller.ts';
import type { Db } from '../../src/hub/store/schema.ts';
import { parseBundleFiles } from '../../src/render/bundle-files.ts';
import { desiredDigest } from '../../src/render/rendered.ts';
import { bundleFile } from '../support/fleet.ts';
import {
  type MemoryHub,
  memoryHub,
  recountAggregates,
  seedSites,
  sortedEntries,
  storedAggregates,
} from '../support/hub.ts';
import { createTestDatabase, storeEngines, type TestDatabase } from '../support/postgres.ts';

const sites = 60;
const actor = { name: 'test', source: 'test' };

function files(version: string, rollout?: object) {
  const manifest = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'app', namespace: 'default' },
    data: { version },
  };
  return bundleFile('app', {}, [manifest], rollout ? { rollout } : {});
}

interface Observation {
  /** sites whose desired revision of app is each revision */
  byRevision: Map<number, number>;
  problems: string[];
}

/**
 * Everything a reader may rely on, read in one consistent snapshot: each site's desired digest is the
 * digest of its deployments, the stored aggregates equal a recount, and (with a rollout of `to`) no site
 * is on `to` unless the rollout started it.
 */
async function observe(
  hub: MemoryHub,
  engine: string,
  rollout?: { id: string; to: number },
): Promise<Observation> {
  const read = async (db: Db): Promise<Observation> => {
    const problems: string[] = [];
    const siteRows = await db.selectFrom('sites').select(['id', 'desired_digest']).execute();
    const deployments = await db
      .selectFrom('deployments')
      .select(['site_id', 'bundle', 'desired_digest', 'desired_revision'])
      .execute();
    const bySite = new Map<string, Array<{ bundle: string; digest: string }>>();
    const byRevision = new Map<number, number>();
    for (const d of deployments) {
      if (d.desired_digest === null) continue;
      bySite.set(d.site_id, [
        ...(bySite.get(d.site_id) ?? []),
        { bundle: d.bundle, digest: d.desired_digest },
      ]);
      if (d.bundle === 'app') {
        const r = Number(d.desired_revision);
        byRevision.set(r, (byRevision.get(r) ?? 0) + 1);
      }
    }
    for (const s of siteRows) {
      if (s.desired_digest !== desiredDigest(bySite.get(s.id) ?? [])) {
        problems.push(`site ${s.id}: desired digest does not match its deployments`);
      }
    }
    const stored = sortedEntries(await storedAggregates(hub.ctx, db));
    const recount = sortedEntries(await recountAggregates(hub.ctx, { db }));
    if (JSON.stringify(stored) !== JSON.stringify(recount)) problems.push('aggregates differ from a recount');
    if (rollout) {
      const started = new Set(
        (
          await db
            .selectFrom('rollout_sites')
            .select('site_id')
            .where('rollout_id', '=', rollout.id)
            .where('started_at', 'is not', null)
            .execute()
        ).map((r) => r.site_id),
      );
      for (const d of deployments) {
        if (d.bundle === 'app' && Number(d.desired_revision) === rollout.to && !started.has(d.site_id)) {
          problems.push(`site ${d.site_id} is on r${rollout.to} before its rollout started it`);
        }
      }
    }
    return { byRevision, problems };
  };
  // one snapshot: SQLite's one connection is held for the transaction; PostgreSQL needs repeatable read
  const tx =
    engine === 'postgres'
      ? hub.ctx.store.db.transaction().setIsolationLevel('repeatable read')
      : hub.ctx.store.db.transaction();
  return tx.execute(read);
}

/** Observes again and again until `work` is done; returns every observation. */
async function observeWhile(
  hub: MemoryHub,
  engine: string,
  work: Promise<unknown>,
  rollout?: { id: string; to: number },
): Promise<Observation[]> {
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  const seen: Observation[] = [];
  while (!done) seen.push(await observe(hub, engine, rollout));
  await finished;
  seen.push(await observe(hub, engine, rollout));
  return seen;
}

for (const { engine, skip } of storeEngines) {
  describe(`placement in chunks on ${engine}`, { skip }, () => {
    let database: TestDatabase | undefined;
    let hub: MemoryHub;

    before(async () => {
      if (engine === 'postgres') database = await createTestDatabase();
      hub = await memoryHub({
        database: database?.url ?? ':memory:',
        placement: { sitesPerTransaction: 5 },
        rollouts: { tickIntervalMs: 0 },
        aggregateLabels: ['region'],
      });
      await seedSites(
        hub.ctx,
        Array.from({ length: sites }, (_, i) => ({ name: `chunk-${i}`, labels: { region: `r${i % 3}` } })),
      );
      await applyBundle(hub.ctx, actor, files('1'));
    });

    after(async () => {
      await hub?.close();
      await database?.drop();
    });

    test('between chunks a reader sees some sites placed and others not, each consistent', async () => {
      const seen = await observeWhile(hub, engine, applyBundle(hub.ctx, actor, files('2')));
      for (const o of seen) assert.deepEqual(o.problems, []);
      const midway = seen.filter((o) => (o.byRevision.get(1) ?? 0) > 0 && (o.byRevision.get(2) ?? 0) > 0);
      assert.ok(midway.length > 0, `a reader saw the fleet half placed (${seen.length} observations)`);
      assert.deepEqual([...seen.at(-1)!.byRevision], [[2, sites]]);
      assert.equal(
        (await hub.ctx.store.db.selectFrom('placement_due').selectAll().execute()).length,
        0,
        'the run cleared what it was asked for',
      );
    });

    test('a rollout step moves sites in chunks and never ahead of the rollout', async () => {
      const strategy = {
        waves: [
          { name: 'canary', count: 9 },
          { name: 'rest', percent: 100 },
        ],
        maxConcurrent: '100%',
        bakeSeconds: 0,
      };
      const applied = await applyBundle(hub.ctx, actor, files('3', strategy));
      const rollout = { id: applied.rollout!, to: applied.revision };
      // the canary wave starts on the first tick: its sites move chunk by chunk
      const seen = await observeWhile(hub, engine, tickRollouts(hub.ctx), rollout);
      for (const o of seen) assert.deepEqual(o.problems, []);
      assert.equal(seen.at(-1)!.byRevision.get(rollout.to), 9, 'the canary wave, and only it');
    });

    test('each chunk reads the bundle afresh: a revision committed mid-run reaches the rest, and stays due', async () => {
      const older = applyBundle(hub.ctx, actor, files('4'));
      // Once the run has placed some chunks and not all, revision 5 commits as an apply commits it, and
      // its own run never comes (the process died). The transaction holds the placement lock (on SQLite
      // the one connection), so no chunk lands between the look and the commit; the next look queues right
      // behind the run's next chunk (SQLite answers at once, so a timer would wait out the whole run).
      const parsed = parseBundleFiles(files('5').files);
      for (let committed = false; !committed; ) {
        committed = await hub.ctx.store.db.transaction().execute(async (tx) => {
          await hub.ctx.store.sql.lockTransaction(tx as never, 'placement');
          const onR4 = await tx
            .selectFrom('deployments')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('bundle', '=', 'app')
            .where('desired_revision', '=', 4)
            .executeTakeFirstOrThrow();
          assert.ok(Number(onR4.n) < sites, 'the run finished before the test could interleave');
          if (Number(onR4.n) === 0) return false;
          await storeRevision(tx, hub.ctx.now(), parsed, { source: null, commit: null });
          await markPlacementDue(hub.ctx, tx, ['app']);
          return true;
        });
      }
      await older;
      let o = await observe(hub, engine);
      assert.deepEqual(o.problems, []);
      assert.ok(
        (o.byRevision.get(5) ?? 0) > 0,
        `the chunks after the commit placed r5: ${[...o.byRevision]}`,
      );
      assert.deepEqual(
        (await hub.ctx.store.db.selectFrom('placement_due').select('bundle').execute()).map((r) => r.bundle),
        ['app'],
        'the older run does not clear what was asked after it started',
      );
      assert.deepEqual(await placeOverdue(hub.ctx), [], 'a run may still be going: too early to take it up');
      hub.advance(61_000);
      assert.deepEqual(await placeOverdue(hub.ctx), ['app'], 'left alone for a minute: the leader runs it');
      o = await observe(hub, engine);
      assert.deepEqual(o.problems, []);
      assert.deepEqual([...o.byRevision], [[5, sites]]);
      assert.equal((await hub.ctx.store.db.selectFrom('placement_due').selectAll().execute()).length, 0);
    });

    test('a site whose row another transaction holds is placed last, not holding up the rest', {
      skip: engine !== 'postgres' && 'PostgreSQL only: on SQLite placement is the one writer',
    }, async () => {
      // a report batch of another replica holds the first site's row, as one does until it commits
      const [first] = await hub.ctx.store.db
        .selectFrom('sites')
        .select('id')
        .orderBy('id')
        .limit(1)
        .execute();
      const report = new pg.Client({ connectionString: database!.url });
      await report.connect();
      try {
        await report.query('begin');
        await report.query('update sites set last_seen_at = $2 where id = $1', [
          first!.id,
          hub.ctx.now().toISOString(),
        ]);
        const run = applyBundle(hub.ctx, actor, files('6'));
        let o = await observe(hub, engine);
        // (no speed asserted: the bound only keeps a placement that waits for the row from hanging the test)
        for (const until = Date.now() + 60_000; (o.byRevision.get(6) ?? 0) < sites - 1; ) {
          assert.ok(Date.now() < until, `the others were placed meanwhile: ${[...o.byRevision]}`);
          await new Promise((r) => setTimeout(r, 50));
          o = await observe(hub, engine);
        }
        assert.deepEqual(o.problems, []);
        const held = await hub.ctx.store.db
          .selectFrom('deployments')
          .select('desired_revision')
          .where('site_id', '=', first!.id)
          .where('bundle', '=', 'app')
          .executeTakeFirstOrThrow();
        assert.equal(Number(held.desired_revision), 5, 'nothing of the held site written yet');
        await report.query('commit');
        await run;
      } finally {
        await report.end();
      }
      const o = await observe(hub, engine);
      assert.deepEqual(o.problems, []);
      assert.deepEqual([...o.byRevision], [[6, sites]], 'the held site once it was free');
      assert.equal((await hub.ctx.store.db.selectFrom('placement_due').selectAll().execute()).length, 0);
    });
  });
}
