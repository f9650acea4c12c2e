// A hub store written before status aggregates existed: opening it migrates, backfills connectivity
// and state times, and builds the aggregates from scratch so they equal a recount.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { contextFromConfig } from '../../src/hub/assemble.ts';
import { migrateTo } from '../../src/hub/store/migrations.ts';
import { openSqlite } from '../../src/hub/store/sqlite.ts';
import { recountAggregates, sortedEntries, storedAggregates } from '../support/hub.ts';

test('a store from before status aggregates opens with exact aggregates and stored connectivity', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-upgrade-'));
  try {
    const file = join(dir, 'hub.db');
    const old = openSqlite(file);
    // the last migration before status aggregates (0004): sites exist, their connectivity is not stored
    await migrateTo(old as never, '0002_identity');
    const site = (i: number, lastSeen: string | null) => ({
      id: `s${i}`,
      name: `old-${i}`,
      labels: JSON.stringify({ region: i % 2 ? 'west' : 'east' }),
      properties: '{}',
      facts: '{}',
      lifecycle: 'Active',
      registered_at: '2025-01-01T00:00:00.000Z',
      last_seen_at: lastSeen,
      desired_digest: null,
      last_report_seq: 0,
    });
    await old
      .insertInto('sites' as never)
      .values([
        site(1, '2025-06-01T00:00:00.000Z'),
        site(2, null),
        site(3, '2025-06-01T00:00:00.000Z'),
      ] as never)
      .execute();
    const deployment = (siteId: string, state: string) => ({
      site_id: siteId,
      bundle: 'web',
      desired_revision: 1,
      desired_digest: `sha256:${'a'.repeat(64)}`,
      applied_digest: null,
      state,
      message: state === 'Failed' ? 'boom' : '',
      total: 1,
      applied: 1,
      ready: 1,
      not_ready: '[]',
      updated_at: '2025-06-01T00:00:00.000Z',
    });
    await old
      .insertInto('deployments' as never)
      .values([deployment('s1', 'Ready'), deployment('s3', 'Failed')] as never)
      .execute();
    await old.destroy();

    const ctx = await contextFromConfig({ database: file });
    try {
      assert.deepEqual(
        sortedEntries(await storedAggregates(ctx)),
        sortedEntries(await recountAggregates(ctx)),
      );
      const rows = await ctx.store.db
        .selectFrom('sites')
        .select(['name', 'connectivity', 'worst_state', 'attention_reason'])
        .orderBy('name')
        .execute();
      assert.deepEqual(
        rows.map((r) => [r.name, r.connectivity, r.worst_state, r.attention_reason]),
        [
          ['old-1', 'Online', 'Ready', null],
          ['old-2', 'Offline', null, 'Offline'],
          ['old-3', 'Online', 'Failed', 'Failed'],
        ],
      );
      const d = await ctx.store.db
        .selectFrom('deployments')
        .select('state_since')
        .where('site_id', '=', 's3')
        .executeTakeFirstOrThrow();
      assert.equal(d.state_since, '2025-06-01T00:00:00.000Z');
    } finally {
      await ctx.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
