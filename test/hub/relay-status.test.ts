// Relays in the hub's status: which sites come through which relay, a silent relay as one event with its
// sites Stale via it (never Offline) until they fall back to the hub or it returns, on a hub whose clock
// the test moves, and on PostgreSQL. The relay's batches go through the hub's own ingest, as its route
// hands them over.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ingestRelayBatch } from '../../src/hub/relays/batch-ingest.ts';
import { createRelay, type Relay } from '../../src/hub/relays/relays.ts';
import { sweepConnectivity } from '../../src/hub/status/connectivity.ts';
import { lastEventId, eventsAfter as storedEventsAfter } from '../../src/hub/status/events.ts';
import type { RelayDetail, RelayView } from '../../src/model/relay-wire.ts';
import type { AttentionItem } from '../../src/model/wire.ts';
import { startTestHub } from '../support/fleet.ts';
import { type MemoryHub, memoryHub, type SiteHandle, seedSites } from '../support/hub.ts';
import { createTestDatabase, withoutPostgres } from '../support/postgres.ts';

let hub: MemoryHub;
let relay: Relay;
const sites: Record<string, SiteHandle> = {};
const status = { connectedSites: 3, outbox: { pending: 0, bytes: 0, dropped: 0 }, feedLagSeconds: 0 };

async function relayHeard(...names: string[]) {
  await ingestRelayBatch(hub.ctx, relay, { items: [], seen: names.map((n) => sites[n]!.siteId), status });
}

async function westView(): Promise<RelayView> {
  const { items } = await hub.get<{ items: RelayView[] }>('/api/v1/relays');
  return items.find((r) => r.name === 'west')!;
}

async function eventsAfter(id: number): Promise<Array<{ id: number; type: string; site?: string }>> {
  return (
    await hub.get<{ items: Array<{ id: number; type: string; site?: string }> }>(
      `/api/v1/events?after=${id}&limit=1000`,
    )
  ).items;
}

async function attention(site: string): Promise<AttentionItem | undefined> {
  const { items } = await hub.get<{ items: AttentionItem[] }>('/api/v1/attention?limit=100');
  return items.find((i) => i.site === site);
}

before(async () => {
  hub = await memoryHub();
  for (const name of ['w1', 'w2', 'w3']) sites[name] = await hub.register(name, { region: 'west' });
  sites.e1 = await hub.register('e1', { region: 'east' });
  // registration runs at real time; the hub's clock is moved past it so contacts after it count as later
  hub.advance(30_000);
  const { view } = await createRelay(
    hub.ctx,
    { name: 'test', source: 'test' },
    { name: 'west', selector: { matchLabels: { region: 'west' } } },
  );
  relay = { id: view.id, name: view.name, selector: view.selector };
});

after(() => hub.close());

test('the hub counts the sites a relay heard from, until one calls the hub directly', async () => {
  await relayHeard('w1', 'w2', 'w3', 'e1');
  await hub.ctx.lastSeen.flush();
  const view = await westView();
  assert.equal(view.sites, 3, 'e1 is outside the relay’s scope: not counted');
  assert.deepEqual(view.status, status);
  hub.advance(1000);
  await hub.desired(sites.w3!);
  await hub.ctx.lastSeen.flush();
  const detail = await hub.get<RelayDetail>('/api/v1/relays/west');
  assert.equal(detail.sites, 2);
  assert.deepEqual(detail.siteNames, ['w1', 'w2']);
});

test('a silent relay is one relay_lost event; its sites stay Stale via it, never Offline', async () => {
  const [last] = (await eventsAfter(0)).slice(-1);
  hub.advance(100_000);
  await hub.sweep();
  const events = await eventsAfter(last!.id);
  assert.deepEqual(
    events.map((e) => [e.type, e.site ?? null]),
    [
      ['relay_lost', null],
      ['became_stale', 'w3'],
      ['became_stale', 'e1'],
    ],
    'w3 and e1 called the hub directly: their silence is their own',
  );
  assert.ok((await westView()).lostSince);
  assert.match((await attention('w1'))!.detail, /^Stale via relay west since /);
  hub.advance(600_000);
  await hub.sweep();
  const w1 = await hub.get<{ connectivity: string }>('/api/v1/sites/w1');
  const w3 = await hub.get<{ connectivity: string }>('/api/v1/sites/w3');
  assert.equal(w1.connectivity, 'Stale');
  assert.equal(w3.connectivity, 'Offline');
});

test('a site that falls back to the hub comes back on its own; the relay returning brings the rest', async () => {
  const [last] = (await eventsAfter(0)).slice(-1);
  await hub.desired(sites.w2!);
  await relayHeard('w1');
  const events = await eventsAfter(last!.id);
  assert.deepEqual(
    events.map((e) => [e.type, e.site ?? null]),
    [
      ['came_back', 'w2'],
      ['relay_returned', null],
    ],
  );
  const w1 = await hub.get<{ connectivity: string }>('/api/v1/sites/w1');
  assert.equal(w1.connectivity, 'Online');
  assert.equal(await attention('w1'), undefined);
  const view = await westView();
  assert.equal(view.lostSince, null);
  assert.equal(view.sites, 1);
});

test('on PostgreSQL too: routed sites counted, a silent relay one event, its sites Stale via it', {
  skip: withoutPostgres,
}, async () => {
  const db = await createTestDatabase();
  const pgHub = await startTestHub({ database: db.url });
  try {
    const { ctx } = pgHub.hub;
    await seedSites(ctx, [
      { name: 'n1', labels: { region: 'north' } },
      { name: 'n2', labels: { region: 'north' } },
    ]);
    const ids = (await ctx.store.db.selectFrom('sites').select('id').orderBy('name').execute()).map(
      (r) => r.id,
    );
    const { view } = await createRelay(
      ctx,
      { name: 'test', source: 'test' },
      { name: 'north', selector: { matchLabels: { region: 'north' } } },
    );
    const north = { id: view.id, name: view.name, selector: view.selector };
    await ingestRelayBatch(ctx, north, { items: [], seen: ids, status });
    await ctx.lastSeen.flush();
    assert.equal((await pgHub.api.relay('north')).sites, 2);
    // the relay and its sites last heard from over three minutes ago: the relay's silence explains theirs
    const past = new Date(Date.now() - 200_000).toISOString();
    await ctx.store.db.updateTable('relays').set({ last_seen_at: past }).execute();
    await ctx.store.db.updateTable('sites').set({ last_seen_at: past, via_relay_at: past }).execute();
    const last = await lastEventId(ctx);
    await sweepConnectivity(ctx);
    const events = await storedEventsAfter(ctx, last, {}, 100);
    assert.deepEqual(
      events.map((e) => e.type),
      ['relay_lost'],
    );
    const sites = await pgHub.api.sites();
    assert.deepEqual(
      sites.map((s) => s.connectivity),
      ['Stale', 'Stale'],
    );
  } finally {
    await pgHub.stop();
    await db.drop();
  }
});
