// Connectivity as a stored fact: hearing from a site makes it Online at once; a sweeper moves silent
// sites to Stale and Offline on an owned timer, and sites whose certificate lapsed to Expired (only a
// new registration brings those back). Every move is a recorded change (aggregate deltas, attention,
// an event).

import { type Connectivity, connectivityOf } from '../../model/site.ts';
import type { HubContext } from '../context.ts';
import { findLostRelays } from '../relays/relays.ts';
import type { Db } from '../store/schema.ts';
import { pruneEvents } from './events.ts';
import { loadFacts, recordChanges, type SiteChange } from './site-status.ts';

/**
 * Moves the given sites to `to` (per site) and records the changes; returns how many events it stored.
 * `viaRelay` names, per site, the relay whose silence or return explains the move.
 */
async function moveSites(
  ctx: HubContext,
  tx: Db,
  targets: ReadonlyMap<string, Connectivity>,
  now: string,
  viaRelay: ReadonlyMap<string, string> = new Map(),
): Promise<number> {
  const before = await loadFacts(tx, [...targets.keys()]);
  const changes: SiteChange[] = [];
  for (const [id, facts] of before) {
    const to = targets.get(id)!;
    if (facts.connectivity === to || facts.connectivity === 'Expired') continue;
    await tx
      .updateTable('sites')
      .set({ connectivity: to, connectivity_since: now })
      .where('id', '=', id)
      .execute();
    changes.push({
      siteId: id,
      before: facts,
      after: { ...facts, connectivity: to, connectivitySince: now, viaRelay: viaRelay.get(id) },
    });
  }
  return recordChanges(ctx, tx, changes);
}

/**
 * Records that a site's agent was heard from now. The common case, an Online site, is a note in memory
 * (ctx.lastSeen writes many at once); a site that was not Online moves back at once, as a transition.
 * `returnedRelay` names the relay that came back with the site: its relay_returned event speaks for it.
 */
export async function heardFrom(
  ctx: HubContext,
  site: { id: string; connectivity: Connectivity },
  returnedRelay?: string,
): Promise<void> {
  const now = ctx.now().toISOString();
  if (site.connectivity === 'Online' || site.connectivity === 'Expired') {
    ctx.lastSeen.record(site.id, now);
    return;
  }
  await ctx.store.db.updateTable('sites').set({ last_seen_at: now }).where('id', '=', site.id).execute();
  const stored = await ctx.store.db
    .transaction()
    .execute((tx) =>
      moveSites(
        ctx,
        tx,
        new Map([[site.id, 'Online']]),
        now,
        new Map(returnedRelay ? [[site.id, returnedRelay]] : []),
      ),
    );
  if (stored > 0) ctx.events.notify();
}

/**
 * One sweep: every site whose stored connectivity disagrees with its silence moves, in batches of 500
 * per transaction. The candidates come from index ranges on (connectivity, last_seen_at), so a sweep
 * over a quiet fleet reads next to nothing. This process's contacts are written first; on PostgreSQL
 * another replica's may be up to one flush late, so there a site goes quiet after that much more silence.
 */
export async function sweepConnectivity(ctx: HubContext): Promise<number> {
  await ctx.lastSeen.flush();
  const now = ctx.now();
  const { staleAfterMs, offlineAfterMs, lastSeenFlushMs } = ctx.config.connectivity;
  const lag = ctx.store.engine === 'postgres' ? lastSeenFlushMs : 0;
  const staleCut = new Date(now.getTime() - staleAfterMs - lag).toISOString();
  const offlineCut = new Date(now.getTime() - offlineAfterMs - lag).toISOString();
  // relays first, so the sites of one found silent now go Stale via it
  const lostRelays = await findLostRelays(ctx);
  const candidates = await ctx.store.db
    .selectFrom('sites')
    .select(['id', 'last_seen_at', 'via_relay_id', 'via_relay_at'])
    .where((eb) =>
      eb.or([
        eb.and([eb('connectivity', '=', 'Online'), eb('last_seen_at', '<', staleCut)]),
        eb.and([eb('connectivity', '=', 'Stale'), eb('last_seen_at', '<', offlineCut)]),
        eb.and([eb('connectivity', '=', 'Stale'), eb('last_seen_at', '>=', staleCut)]),
        eb.and([eb('connectivity', '=', 'Offline'), eb('last_seen_at', '>=', offlineCut)]),
        eb.and([eb('connectivity', 'in', ['Online', 'Stale']), eb('last_seen_at', 'is', null)]),
      ]),
    )
    .execute();
  const stamp = now.toISOString();
  const lapsed = await ctx.store.db
    .selectFrom('sites')
    .select('id')
    .where('connectivity', '!=', 'Expired')
    .where('cert_expires_at', '<=', stamp)
    .execute();
  let moved = 0;
  let stored = 0;
  for (let i = 0; i < lapsed.length; i += 500) {
    const batch = new Map<string, Connectivity>(lapsed.slice(i, i + 500).map((r) => [r.id, 'Expired']));
    moved += batch.size;
    stored += await ctx.store.db.transaction().execute((tx) => moveSites(ctx, tx, batch, stamp));
  }
  const expired = new Set(lapsed.map((r) => r.id));
  for (let i = 0; i < candidates.length; i += 500) {
    const batch = new Map<string, Connectivity>();
    const viaLost = new Map<string, string>();
    for (const c of candidates.slice(i, i + 500)) {
      if (expired.has(c.id)) continue;
      const silent = connectivityOf(
        c.last_seen_at ? new Date(c.last_seen_at) : undefined,
        now,
        ctx.config.connectivity,
      );
      const relay = c.via_relay_id === null ? undefined : lostRelays.get(c.via_relay_id);
      // a site silent only because its relay is: Stale via the relay until it falls back or the relay returns
      if (
        relay &&
        silent !== 'Online' &&
        c.via_relay_at !== null &&
        c.via_relay_at >= (c.last_seen_at ?? '')
      ) {
        batch.set(c.id, 'Stale');
        viaLost.set(c.id, relay);
      } else {
        batch.set(c.id, silent);
      }
    }
    moved += batch.size;
    stored += await ctx.store.db.transaction().execute((tx) => moveSites(ctx, tx, batch, stamp, viaLost));
  }
  if (stored > 0) ctx.events.notify();
  return moved;
}

/** The hub's background status work, one pass: connectivity sweep, event retention, emptied aggregate rows. */
export async function statusPass(ctx: HubContext): Promise<void> {
  await sweepConnectivity(ctx);
  await pruneEvents(ctx);
  await ctx.store.db.deleteFrom('status_aggregates').where('count', '=', 0).execute();
}
