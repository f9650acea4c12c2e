// Incremental status against a real hub on real SQLite: after any sequence of registrations, label
// changes, bundle changes, polls, silences and reports (out of order and duplicated), every aggregate
// equals a brute-force recount; plus connectivity transitions, events, attention and site detail.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { cellsWithin, fleetStatusWithin } from '../../src/hub/access/scoped-status.ts';
import { siteFromRow } from '../../src/hub/sites/sites.ts';
import { rebuildAggregates } from '../../src/hub/status/rebuild.ts';
import { ingestReports, judgeBatch, storedSites } from '../../src/hub/status/reports.ts';
import { changeSites } from '../../src/hub/status/site-status.ts';
import { fleetStatus, type StatusCells } from '../../src/hub/status/summary.ts';
import { worstState } from '../../src/model/deployment.ts';
import {
  type MemoryHub,
  memoryHub,
  operator,
  recountAggregates,
  type SiteHandle,
  sortedEntries,
  storedAggregates,
} from '../support/hub.ts';
import { testClock } from '../support/hub-server.ts';

const states = ['Applying', 'Ready', 'NotReady', 'Failed', 'Drifted'] as const;
const regions = ['west', 'east'] as const;

type Op =
  | { kind: 'register'; site: number; region: string | undefined; format: string }
  | { kind: 'relabel'; site: number; region: string | undefined; format: string | undefined }
  | { kind: 'apply'; bundle: number; region: string | undefined; version: number }
  | { kind: 'delete'; bundle: number }
  | {
      kind: 'report';
      site: number;
      seq: 'next' | 'same' | 'older' | 'jump';
      pick: number[];
      stale: boolean;
      removed: boolean;
    }
  | { kind: 'silence'; ms: number }
  | { kind: 'poll'; site: number };

const site = fc.nat({ max: 4 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('register' as const),
    site,
    region: fc.option(fc.constantFrom(...regions), { nil: undefined }),
    format: fc.constantFrom('mini', 'max'),
  }),
  fc.record({
    kind: fc.constant('relabel' as const),
    site,
    region: fc.option(fc.constantFrom(...regions), { nil: undefined }),
    format: fc.option(fc.constantFrom('mini', 'max'), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant('apply' as const),
    bundle: fc.nat({ max: 2 }),
    region: fc.option(fc.constantFrom(...regions), { nil: undefined }),
    version: fc.nat({ max: 2 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), bundle: fc.nat({ max: 2 }) }),
  fc.record({
    kind: fc.constant('report' as const),
    site,
    seq: fc.constantFrom('next', 'same', 'older', 'jump'),
    pick: fc.array(fc.nat({ max: states.length - 1 }), { minLength: 3, maxLength: 3 }),
    stale: fc.boolean(),
    removed: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('silence' as const), ms: fc.constantFrom(30_000, 100_000, 700_000) }),
  fc.record({ kind: fc.constant('poll' as const), site }),
);

async function run(hub: MemoryHub, ops: readonly Op[]): Promise<void> {
  const credentials = new Map<number, SiteHandle>();
  const seqs = new Map<number, number>();
  const bundles = new Set<number>();
  for (const op of ops) {
    switch (op.kind) {
      case 'register': {
        const labels: Record<string, string> = { format: op.format };
        if (op.region) labels.region = op.region;
        credentials.set(op.site, await hub.register(`site-${op.site}`, labels));
        break;
      }
      case 'relabel': {
        if (!credentials.has(op.site)) break;
        const labels: Record<string, string> = { tier: 'x' };
        if (op.region) labels.region = op.region;
        if (op.format) labels.format = op.format;
        const r = await hub.app.inject({
          method: 'PATCH',
          url: `/api/v1/sites/site-${op.site}`,
          headers: operator,
          payload: { labels },
        });
        assert.equal(r.statusCode, 200, r.body);
        break;
      }
      case 'apply':
        await hub.applyBundle(`b${op.bundle}`, op.region ? { matchLabels: { region: op.region } } : {}, {
          v: String(op.version),
        });
        bundles.add(op.bundle);
        break;
      case 'delete':
        if (!bundles.delete(op.bundle)) break;
        await hub.app.inject({ method: 'DELETE', url: `/api/v1/bundles/b${op.bundle}`, headers: operator });
        break;
      case 'report': {
        const creds = credentials.get(op.site);
        if (!creds) break;
        const last = seqs.get(op.site) ?? 0;
        const seq = { next: last + 1, same: Math.max(last, 1), older: Math.max(last - 1, 1), jump: last + 3 }[
          op.seq
        ];
        seqs.set(op.site, Math.max(last, seq));
        const rows = await hub.ctx.store.db
          .selectFrom('deployments')
          .innerJoin('sites', 'sites.id', 'deployments.site_id')
          .select(['deployments.bundle', 'deployments.desired_digest'])
          .where('sites.name', '=', `site-${op.site}`)
          .orderBy('deployments.bundle')
          .execute();
        const placed = rows.filter((r) => r.desired_digest !== null);
        await hub.report(creds, {
          seq,
          deployments: placed.map((r, i) => ({
            bundle: r.bundle,
            digest: op.stale && i === 0 ? `sha256:${'0'.repeat(64)}` : r.desired_digest,
            state: states[op.pick[i % 3]!]!,
            message: op.pick[i % 3] === 3 ? 'apply failed; rolled back to the last good revision' : '',
            counts: { total: 1, applied: 1, ready: 1 },
          })),
          ...(op.removed
            ? { removed: rows.filter((r) => r.desired_digest === null).map((r) => r.bundle) }
            : {}),
        });
        break;
      }
      case 'silence':
        hub.advance(op.ms);
        await hub.sweep();
        break;
      case 'poll': {
        const creds = credentials.get(op.site);
        if (creds) await hub.desired(creds);
        break;
      }
    }
  }
}

/** Cells as recountAggregates keys them, zeros left out. */
function flatten(cells: StatusCells): Map<string, number> {
  const out = new Map<string, number>();
  const add = (dimension: string, byKey: Map<string, Map<string, number>>) => {
    for (const [key, metrics] of byKey)
      for (const [metric, n] of metrics) if (n !== 0) out.set(`${dimension}|${key}|${metric}`, n);
  };
  add('fleet', new Map(cells.fleet ? [['', cells.fleet]] : []));
  add('bundle', cells.bundle);
  add('revision', cells.revision);
  add('label', cells.label);
  return out;
}

describe('aggregates', () => {
  test('property: after random operations, every aggregate equals a brute-force recount', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        // the clock starts in the past: up to 30 silences move it hours ahead, and certificates issued
        // then must still be valid to TLS, which checks them against the real time
        const hub = await memoryHub({}, { clock: testClock(new Date(Date.now() - 12 * 3600_000)) });
        try {
          await run(hub, ops);
          assert.deepEqual(
            sortedEntries(await storedAggregates(hub.ctx)),
            sortedEntries(await recountAggregates(hub.ctx)),
          );
          // a scoped token's counts come from the sites themselves, never from the fleet's aggregates
          const west = { matchLabels: { region: 'west' } };
          assert.deepEqual(
            sortedEntries(flatten(await cellsWithin(hub.ctx, [west]))),
            sortedEntries(await recountAggregates(hub.ctx, { keep: (labels) => labels.region === 'west' })),
          );
          assert.deepEqual(await fleetStatusWithin(hub.ctx, [{}]), await fleetStatus(hub.ctx));
          const sites = await hub.ctx.store.db.selectFrom('sites').select(['id', 'worst_state']).execute();
          for (const s of sites) {
            const placed = await hub.ctx.store.db
              .selectFrom('deployments')
              .select('state')
              .where('site_id', '=', s.id)
              .where('desired_digest', 'is not', null)
              .execute();
            assert.equal(s.worst_state, worstState(placed.map((p) => p.state as never)) ?? null);
          }
        } finally {
          await hub.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  test('a rebuild from scratch gives the same counts as the deltas did', async () => {
    const hub = await memoryHub();
    try {
      await run(hub, [
        { kind: 'register', site: 0, region: 'west', format: 'mini' },
        { kind: 'register', site: 1, region: 'east', format: 'max' },
        { kind: 'apply', bundle: 0, region: undefined, version: 0 },
        { kind: 'report', site: 0, seq: 'next', pick: [3, 3, 3], stale: false, removed: false },
        { kind: 'silence', ms: 700_000 },
      ]);
      const incremental = sortedEntries(await storedAggregates(hub.ctx));
      await rebuildAggregates(hub.ctx);
      assert.deepEqual(sortedEntries(await storedAggregates(hub.ctx)), incremental);
    } finally {
      await hub.close();
    }
  });
});

describe('connectivity, events and attention', () => {
  let hub: MemoryHub;
  let store1: SiteHandle;
  let digest: string;

  before(async () => {
    hub = await memoryHub();
    store1 = await hub.register('store-1', { region: 'west' });
    await hub.register('store-2', { region: 'east' });
    await hub.applyBundle('web', {});
    digest = (await hub.desired(store1))[0]!.digest;
  });
  after(() => hub.close());

  const eventsOf = async (site: string) =>
    (
      await hub.get<{ items: Array<{ type: string; bundle: string | null }> }>(`/api/v1/events?site=${site}`)
    ).items.map((e) => e.type);

  test('registration is an event', async () => {
    assert.deepEqual(await eventsOf('store-1'), ['registered']);
  });

  test('silence makes a site Stale, then Offline; hearing from it brings it back; each is an event', async () => {
    hub.advance(60_000);
    await hub.desired(store1);
    hub.advance(60_000);
    await hub.sweep();
    let status = await hub.get<{ sites: { byConnectivity: Record<string, number> } }>('/api/v1/status');
    assert.deepEqual(status.sites.byConnectivity, { Online: 1, Stale: 1, Offline: 0, Expired: 0 });
    hub.advance(600_000);
    await hub.sweep();
    status = await hub.get('/api/v1/status');
    assert.deepEqual(status.sites.byConnectivity, { Online: 0, Stale: 0, Offline: 2, Expired: 0 });
    await hub.desired(store1);
    status = await hub.get('/api/v1/status');
    assert.deepEqual(status.sites.byConnectivity, { Online: 1, Stale: 0, Offline: 1, Expired: 0 });
    assert.deepEqual(await eventsOf('store-2'), ['registered', 'became_stale', 'went_offline']);
    assert.deepEqual(await eventsOf('store-1'), ['registered', 'went_offline', 'came_back']);
  });

  test('a site never sweeps to Online or Offline while Expired: identity owns that state', async () => {
    await hub.ctx.store.db
      .updateTable('sites')
      .set({ connectivity: 'Expired' })
      .where('name', '=', 'store-2')
      .execute();
    hub.advance(1_000_000);
    await hub.sweep();
    const row = await hub.ctx.store.db
      .selectFrom('sites')
      .select('connectivity')
      .where('name', '=', 'store-2')
      .executeTakeFirstOrThrow();
    assert.equal(row.connectivity, 'Expired');
    await hub.ctx.store.db
      .updateTable('sites')
      .set({ connectivity: 'Offline' })
      .where('name', '=', 'store-2')
      .execute();
  });

  test('a failing deployment is an event and tops the attention list; recovery is an event and clears it', async () => {
    await hub.desired(store1);
    await hub.report(store1, {
      seq: 1,
      deployments: [
        {
          bundle: 'web',
          digest,
          state: 'Failed',
          message: 'ImagePullBackOff',
          counts: { total: 1, applied: 0, ready: 0 },
          notReady: [{ object: 'ConfigMap/default/web', reason: 'ImagePullBackOff' }],
        },
      ],
    });
    const attention = await hub.get<{ items: Array<{ site: string; reason: string; detail: string }> }>(
      '/api/v1/attention?limit=5',
    );
    assert.deepEqual(
      attention.items.map((i) => [i.site, i.reason]),
      [
        ['store-1', 'Failed'],
        ['store-2', 'Offline'],
      ],
    );
    assert.match(attention.items[0]!.detail, /web: ImagePullBackOff/);
    await hub.report(store1, {
      seq: 2,
      deployments: [{ bundle: 'web', digest, state: 'Ready', counts: { total: 1, applied: 1, ready: 1 } }],
    });
    const types = await eventsOf('store-1');
    assert.deepEqual(types.slice(-2), ['failed', 'recovered']);
    const after = await hub.get<{ items: Array<{ site: string }> }>('/api/v1/attention');
    assert.deepEqual(
      after.items.map((i) => i.site),
      ['store-2'],
    );
  });

  test('site detail lists every deployment and every object not ready, the last report and its events', async () => {
    const many = Array.from({ length: 250 }, (_, i) => ({
      object: `ConfigMap/default/c${i}`,
      reason: 'waiting',
    }));
    await hub.report(store1, {
      seq: 3,
      deployments: [
        {
          bundle: 'web',
          digest,
          state: 'NotReady',
          counts: { total: 250, applied: 250, ready: 0 },
          notReady: many,
        },
      ],
    });
    const detail = await hub.get<{
      lastReport: string;
      deployments: Array<{ notReady: unknown[] }>;
      events: Array<{ type: string }>;
      attention: { reason: string };
    }>('/api/v1/sites/store-1');
    assert.equal(detail.deployments[0]!.notReady.length, 250);
    assert.equal(detail.lastReport, hub.ctx.now().toISOString());
    assert.equal(detail.attention.reason, 'NotReady');
    assert.deepEqual(
      detail.events.map((e) => e.type),
      ['registered', 'went_offline', 'came_back', 'went_offline', 'came_back', 'failed', 'recovered'],
    );
  });

  test('events page forward with after, and filter by type', async () => {
    const all = await hub.get<{ items: Array<{ id: number }>; lastId: number }>(
      '/api/v1/events?after=0&limit=2',
    );
    assert.equal(all.items.length, 2);
    const next = await hub.get<{ items: Array<{ id: number }> }>(
      `/api/v1/events?after=${all.lastId}&limit=1000`,
    );
    assert.ok(next.items.every((e) => e.id > all.lastId));
    const offline = await hub.get<{ items: Array<{ type: string }> }>('/api/v1/events?type=went_offline');
    assert.deepEqual(
      offline.items.map((e) => e.type),
      ['went_offline', 'went_offline', 'went_offline'],
    );
  });
});

describe('group commit of reports', () => {
  test('concurrent reports, shuffled and duplicated, are each acked and leave the aggregates exact', async () => {
    const hub = await memoryHub();
    try {
      const sites: SiteHandle[] = [];
      for (let i = 0; i < 12; i++) sites.push(await hub.register(`gc-${i}`, { region: regions[i % 2]! }));
      await hub.applyBundle('web', {});
      const digest = (await hub.desired(sites[0]!))[0]!.digest;
      const sends = fc.sample(
        fc.record({
          site: fc.nat({ max: 11 }),
          seq: fc.integer({ min: 1, max: 6 }),
          state: fc.constantFrom(...states),
        }),
        { numRuns: 200, seed: 7 },
      );
      const acks = await Promise.all(
        sends.map((s) =>
          hub.report(sites[s.site]!, {
            seq: s.seq,
            deployments: [
              { bundle: 'web', digest, state: s.state, counts: { total: 1, applied: 1, ready: 1 } },
            ],
          }),
        ),
      );
      assert.equal(acks.length, sends.length);
      assert.ok(acks.some((a) => a.accepted) && acks.some((a) => !a.accepted));
      assert.deepEqual(
        sortedEntries(await storedAggregates(hub.ctx)),
        sortedEntries(await recountAggregates(hub.ctx)),
      );
      for (let i = 0; i < 12; i++) {
        const max = Math.max(0, ...sends.filter((s) => s.site === i).map((s) => s.seq));
        const row = await hub.ctx.store.db
          .selectFrom('sites')
          .select('last_report_seq')
          .where('name', '=', `gc-${i}`)
          .executeTakeFirstOrThrow();
        assert.equal(Number(row.last_report_seq), max, `gc-${i}`);
      }
    } finally {
      await hub.close();
    }
  });

  test('a report that cannot be stored fails alone; the others in its batch are acked', async () => {
    const hub = await memoryHub();
    try {
      const good = await hub.register('gc-good');
      const doomed = await hub.register('gc-doomed');
      const site = await hub.ctx.store.db
        .selectFrom('sites')
        .select('id')
        .where('name', '=', 'gc-doomed')
        .executeTakeFirstOrThrow();
      const byId = async (id: string) =>
        siteFromRow(
          await hub.ctx.store.db
            .selectFrom('sites')
            .selectAll()
            .where('id', '=', id)
            .executeTakeFirstOrThrow(),
        );
      const doomedSite = await byId(doomed.siteId);
      const goodSite = await byId(good.siteId);
      // the site's row vanishes between authentication and ingestion
      await hub.ctx.store.db.deleteFrom('sites').where('id', '=', site.id).execute();
      const results = await Promise.allSettled([
        hub.ctx.reports.submit(goodSite, { seq: 1, deployments: [] }),
        hub.ctx.reports.submit(doomedSite, { seq: 1, deployments: [] }),
        hub.ctx.reports.submit(goodSite, { seq: 2, deployments: [] }),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.deepEqual((results[2] as PromiseFulfilledResult<unknown>).value, { accepted: true, lastSeq: 2 });
    } finally {
      await hub.close();
    }
  });

  test('a site reporting twice in one batch: the second report sees what the first wrote', async () => {
    const hub = await memoryHub();
    try {
      const twice = await hub.register('twice-1');
      const site = siteFromRow(
        await hub.ctx.store.db
          .selectFrom('sites')
          .selectAll()
          .where('id', '=', twice.siteId)
          .executeTakeFirstOrThrow(),
      );
      // submitted in one turn, so one batch: the repeat of seq 1 is a replay, seq 2 follows it
      const acks = await Promise.all([
        hub.ctx.reports.submit(site, { seq: 1, deployments: [] }),
        hub.ctx.reports.submit(site, { seq: 1, deployments: [] }),
        hub.ctx.reports.submit(site, { seq: 2, deployments: [] }),
      ]);
      assert.deepEqual(acks, [
        { accepted: true, lastSeq: 1 },
        { accepted: false, lastSeq: 1 },
        { accepted: true, lastSeq: 2 },
      ]);
    } finally {
      await hub.close();
    }
  });

  test('a batch of sites of any count is judged site by site against its own rows', async () => {
    const hub = await memoryHub();
    try {
      const handles: SiteHandle[] = [];
      for (let i = 0; i < 7; i++) handles.push(await hub.register(`batch-${i}`));
      await hub.applyBundle('web', {});
      const rows = await hub.ctx.store.db
        .selectFrom('sites')
        .innerJoin('deployments', 'deployments.site_id', 'sites.id')
        .selectAll('sites')
        .select('deployments.desired_digest')
        .where('deployments.bundle', '=', 'web')
        .execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      const order = [...states];
      // batches of 3, 5 and 7 sites: the reads are compiled for 4 and 8 and padded with a repeated id
      for (const count of [3, 5, 7]) {
        const batch = handles.slice(0, count).map((h, i) => {
          const row = byId.get(h.siteId)!;
          const state = order[(i + count) % order.length]!;
          return { site: siteFromRow(row), state, digest: row.desired_digest! };
        });
        // straight to one transaction: the batcher would retry a failed batch report by report
        const acks = await ingestReports(
          hub.ctx,
          batch.map(({ site, state, digest }) => ({
            site,
            report: {
              seq: count,
              deployments: [{ bundle: 'web', digest, state, counts: { total: 1, applied: 1, ready: 0 } }],
            },
          })),
        );
        assert.deepEqual(
          acks,
          batch.map(() => ({ accepted: true, lastSeq: count })),
        );
        const stored = await hub.ctx.store.db
          .selectFrom('deployments')
          .select(['site_id', 'state'])
          .where('bundle', '=', 'web')
          .where(
            'site_id',
            'in',
            batch.map((b) => b.site.id),
          )
          .execute();
        assert.deepEqual(
          new Map(stored.map((r) => [r.site_id, r.state])),
          new Map(batch.map((b) => [b.site.id, b.state])),
        );
      }
      assert.deepEqual(
        sortedEntries(await storedAggregates(hub.ctx)),
        sortedEntries(await recountAggregates(hub.ctx)),
      );
    } finally {
      await hub.close();
    }
  });
  test('a batch writes each site once: later reports keep what earlier ones set, replays change nothing', async () => {
    const hub = await memoryHub();
    try {
      const handles: SiteHandle[] = [];
      for (const name of ['merge-b', 'merge-a', 'merge-c']) handles.push(await hub.register(name));
      await hub.applyBundle('web', {});
      const rows = await hub.ctx.store.db
        .selectFrom('sites')
        .innerJoin('deployments', 'deployments.site_id', 'sites.id')
        .selectAll('sites')
        .select('deployments.desired_digest')
        .where('deployments.bundle', '=', 'web')
        .execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      const [b, a, c] = handles.map((h) => siteFromRow(byId.get(h.siteId)!));
      const digest = byId.get(b!.id)!.desired_digest!;
      const web = (state: (typeof states)[number]) => [
        { bundle: 'web', digest, state, counts: { total: 1, applied: 1, ready: state === 'Ready' ? 1 : 0 } },
      ];
      const stack = { agentVersion: '1.0.0', kubernetesVersion: 'v1.33.1', nodes: [] };
      const at = hub.ctx.now().toISOString();
      // out of site-id order, each site more than once: stack, dropped count and state set by one report
      // and absent from (or lower in) the next must stay as the first one set them
      const acks = await ingestReports(hub.ctx, [
        { site: c!, report: { seq: 1, deployments: web('Failed'), stack, droppedReports: 3 } },
        { site: b!, report: { seq: 1, deployments: web('NotReady') } },
        { site: c!, report: { seq: 2, deployments: web('Failed'), droppedReports: 1 } },
        { site: a!, report: { seq: 4, deployments: web('Ready') } },
        { site: c!, report: { seq: 1, deployments: web('Ready') } },
        { site: b!, report: { seq: 2, deployments: web('Failed') } },
        { site: a!, report: { seq: 4, deployments: web('Failed') } },
      ]);
      assert.deepEqual(acks, [
        { accepted: true, lastSeq: 1 },
        { accepted: true, lastSeq: 1 },
        { accepted: true, lastSeq: 2 },
        { accepted: true, lastSeq: 4 },
        { accepted: false, lastSeq: 2 },
        { accepted: true, lastSeq: 2 },
        { accepted: false, lastSeq: 4 },
      ]);
      const stored = await hub.ctx.store.db
        .selectFrom('sites')
        .innerJoin('deployments', 'deployments.site_id', 'sites.id')
        .select([
          'sites.id',
          'sites.last_report_seq',
          'sites.stack',
          'sites.stack_at',
          'sites.facts',
          'sites.dropped_reports',
          'sites.connectivity',
          'sites.worst_state',
          'sites.attention_reason',
          'deployments.state',
          'deployments.state_since',
        ])
        .where('deployments.bundle', '=', 'web')
        .where('sites.id', 'in', [a!.id, b!.id, c!.id])
        .execute();
      const row = new Map(stored.map((r) => [r.id, r]));
      const siteC = row.get(c!.id)!;
      assert.equal(Number(siteC.last_report_seq), 2);
      assert.deepEqual(JSON.parse(siteC.stack!), stack);
      assert.equal(siteC.stack_at, at);
      assert.equal(JSON.parse(siteC.facts).kubernetesVersion, 'v1.33.1');
      assert.equal(Number(siteC.dropped_reports), 3);
      assert.equal(siteC.state, 'Failed');
      assert.equal(siteC.worst_state, 'Failed');
      assert.equal(siteC.attention_reason, 'Failed');
      const siteB = row.get(b!.id)!;
      assert.equal(Number(siteB.last_report_seq), 2);
      assert.equal(siteB.stack, null);
      assert.equal(siteB.state, 'Failed');
      assert.equal(siteB.worst_state, 'Failed');
      const siteA = row.get(a!.id)!;
      assert.equal(Number(siteA.last_report_seq), 4);
      assert.equal(siteA.state, 'Ready', 'the replay of seq 4 moved nothing');
      assert.equal(siteA.attention_reason, null);
      for (const r of stored) assert.equal(r.connectivity, 'Online');
      // the batch's transitions, stored in report order
      const events = await hub.ctx.store.db
        .selectFrom('events')
        .select(['site', 'type'])
        .where('site', 'in', ['merge-a', 'merge-b', 'merge-c'])
        .where('type', 'in', ['failed', 'drifted', 'recovered'])
        .orderBy('id')
        .execute();
      assert.deepEqual(
        events.map((e) => `${e.site} ${e.type}`),
        ['merge-c failed', 'merge-b failed'],
      );
      assert.deepEqual(
        sortedEntries(await storedAggregates(hub.ctx)),
        sortedEntries(await recountAggregates(hub.ctx)),
      );
    } finally {
      await hub.close();
    }
  });
  test('a batch writes its rows in site-id order whatever order its reports came in', async () => {
    const hub = await memoryHub();
    try {
      const handles: SiteHandle[] = [];
      for (let i = 0; i < 6; i++) handles.push(await hub.register(`order-${i}`, {}));
      await hub.applyBundle('web', {});
      await hub.applyBundle('api', {});
      const ids = handles.map((h) => h.siteId);
      const loaded = await storedSites(hub.ctx.store.db, ids);
      const digests = new Map(
        [...loaded.values()].flatMap((s) =>
          s.rows.map((r) => [`${r.site_id} ${r.bundle}`, r.desired_digest!]),
        ),
      );
      const deployment = (siteId: string, bundle: string) => ({
        bundle,
        digest: digests.get(`${siteId} ${bundle}`)!,
        state: 'Failed' as const,
        counts: { total: 1, applied: 1, ready: 0 },
      });
      // descending ids, each site's bundles backwards, one site twice
      const desc = [...ids].sort().reverse();
      const reports = [...desc, desc[2]!].map((id, k) => ({
        site: { id },
        report: { seq: k + 1, deployments: [deployment(id, 'web'), deployment(id, 'api')] },
      }));
      const judged = judgeBatch(hub.ctx.now().toISOString(), loaded, reports);
      const ascending = [...ids].sort();
      assert.deepEqual(
        judged.sites.map((w) => w.id),
        ascending,
      );
      assert.deepEqual(
        judged.deployments.map((w) => ('update' in w ? `${w.update.site_id} ${w.update.bundle}` : '')),
        ascending.flatMap((id) => [`${id} api`, `${id} web`]),
      );
      assert.deepEqual(
        judged.acks.map((a) => a.accepted),
        reports.map(() => true),
      );
    } finally {
      await hub.close();
    }
  });
});

describe('changes made by other parts of the hub', () => {
  test('a lifecycle change through changeSites moves the counts and stores its event', async () => {
    const hub = await memoryHub();
    try {
      await hub.register('lc-1', { region: 'west' });
      await hub.applyBundle('web', {});
      const { id } = await hub.ctx.store.db
        .selectFrom('sites')
        .select('id')
        .where('name', '=', 'lc-1')
        .executeTakeFirstOrThrow();
      const set = (lifecycle: string) => (tx: typeof hub.ctx.store.db) =>
        tx.updateTable('sites').set({ lifecycle }).where('id', '=', id).execute();
      await changeSites(hub.ctx, [id], set('Pending'));
      let status = await hub.get<{
        sites: { byLifecycle: Record<string, number>; byConnectivity: Record<string, number> };
      }>('/api/v1/status');
      assert.equal(status.sites.byLifecycle.Pending, 1);
      assert.equal(status.sites.byConnectivity.Online, 0, 'only Active sites count by connectivity');
      await changeSites(hub.ctx, [id], set('Active'), [
        { type: 'approved', site: 'lc-1', message: 'lc-1 approved' },
      ]);
      status = await hub.get('/api/v1/status');
      assert.deepEqual(status.sites.byLifecycle, { Pending: 0, Active: 1, Decommissioned: 0 });
      assert.equal(status.sites.byConnectivity.Online, 1);
      assert.deepEqual(
        sortedEntries(await storedAggregates(hub.ctx)),
        sortedEntries(await recountAggregates(hub.ctx)),
      );
      const events = await hub.get<{ items: Array<{ type: string }> }>(
        '/api/v1/events?site=lc-1&type=approved',
      );
      assert.equal(events.items.length, 1);
    } finally {
      await hub.close();
    }
  });
});
