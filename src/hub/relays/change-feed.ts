// What a relay learns from the hub: one change feed per relay (every site it may serve, with its desired
// digest and accepted certificates, answered when that list changes), the signed desired states of the
// sites it asks for, and the blobs placed on them.

import { OutpostError } from '../../model/errors.ts';
import type { RelayFeed } from '../../model/relay-wire.ts';
import type { DesiredState } from '../../model/wire.ts';
import { signDesired } from '../../pki/desired-signature.ts';
import { canonicalJson, sha256Digest } from '../../render/digest.ts';
import { matchesSelector } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import { desiredStates } from '../placement/desired.ts';
import { type Relay, sitesInScope } from './relays.ts';

/** What every relay's feed is cut from: the Active sites, in id order. */
type ActiveSites = { id: string; name: string; labels: string; desired_digest: string | null }[];

/**
 * The next read of the Active sites, shared by the feed answers asked before it begins: one change wakes
 * every relay's held feed in the same turn, and each answer used to read (and parse) the whole fleet
 * itself. A read begins on the turn after it is first asked for, so no caller gets one begun before it
 * asked. (Certificates are read per relay, for its own sites: reading the whole fleet's for one answer
 * cost more than it saved when the answers came apart.)
 */
const nextRead = new WeakMap<HubContext, Promise<ActiveSites>>();

function sharedActiveSites(ctx: HubContext): Promise<ActiveSites> {
  let read = nextRead.get(ctx);
  if (!read) {
    read = new Promise<void>((r) => setImmediate(r)).then(() => {
      nextRead.delete(ctx);
      return ctx.store.db
        .selectFrom('sites')
        .select(['id', 'name', 'labels', 'desired_digest'])
        .where('lifecycle', '=', 'Active')
        .orderBy('id')
        .execute();
    });
    nextRead.set(ctx, read);
  }
  return read;
}

/**
 * Every Active site the relay may serve, in id order, and those with operations waiting (queuing one
 * wakes the feed as a desired-state change does), with the digest of the whole answer.
 */
export async function relayFeed(ctx: HubContext, relay: Relay): Promise<RelayFeed> {
  const nowIso = ctx.now().toISOString();
  // sites share a few label sets: each is parsed and matched once per answer
  const matched = new Map<string, boolean>();
  const inScope = (await sharedActiveSites(ctx)).filter((r) => {
    let matches = matched.get(r.labels);
    if (matches === undefined) {
      matches = matchesSelector(relay.selector, JSON.parse(r.labels));
      matched.set(r.labels, matches);
    }
    return matches;
  });
  const serials = new Map<string, string[]>();
  for (let i = 0; i < inScope.length; i += 500) {
    const certs = await ctx.store.db
      .selectFrom('certificates')
      .select(['serial', 'site_id'])
      .where(
        'site_id',
        'in',
        inScope.slice(i, i + 500).map((r) => r.id),
      )
      .where('revoked_at', 'is', null)
      .where('not_after', '>', nowIso)
      .orderBy('serial')
      .execute();
    for (const c of certs) {
      const of = serials.get(c.site_id);
      if (of) of.push(c.serial);
      else serials.set(c.site_id, [c.serial]);
    }
  }
  const sites = inScope.map((r) => ({
    id: r.id,
    name: r.name,
    digest: r.desired_digest,
    serials: serials.get(r.id) ?? [],
  }));
  const work = inScope.filter((r) => ctx.work.has(r.id)).map((r) => r.id);
  return { digest: sha256Digest(canonicalJson({ sites, work })), sites, work };
}

/**
 * Resolves when the desired state of one of `siteIds` changes, or after `waitMs` (other changes — a
 * renewed certificate, a new site in scope — are seen when the relay asks again after the wait).
 */
export function scopeChanged(
  ctx: HubContext,
  siteIds: ReadonlySet<string>,
  waitMs: number,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      stop();
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const stop = ctx.desiredWatch.onChange((ids) => {
      if (ids.some((id) => siteIds.has(id))) finish();
    });
    const timer = setTimeout(finish, waitMs);
    signal.addEventListener('abort', finish, { once: true });
  });
}

/** The desired states of the asked sites in the relay's scope, each signed by the hub (others left out). */
export async function signedDesiredStates(
  ctx: HubContext,
  relay: Relay,
  siteIds: readonly string[],
): Promise<{ siteId: string; state: DesiredState }[]> {
  const allowed = await sitesInScope(ctx, relay, siteIds);
  const states = await desiredStates(ctx.store.db, [...allowed.keys()]);
  return [...states].map(([siteId, state]) => ({
    siteId,
    state: { ...state, signature: signDesired(ctx.tls.ca.keyPem, siteId, state.digest) },
  }));
}

/** A rendered blob, for a relay that serves a site it is placed on. */
export async function relayBlob(ctx: HubContext, relay: Relay, digest: string): Promise<string> {
  const placedOn = await ctx.store.db
    .selectFrom('deployments')
    .select('site_id')
    .where('desired_digest', '=', digest)
    .limit(10_000)
    .execute();
  const allowed = await sitesInScope(
    ctx,
    relay,
    placedOn.map((p) => p.site_id),
  );
  if (allowed.size === 0) {
    throw new OutpostError('not_found', `no blob ${digest} is placed on a site relay ${relay.name} serves`);
  }
  const blob = await ctx.store.db
    .selectFrom('blobs')
    .select('content')
    .where('digest', '=', digest)
    .executeTakeFirst();
  if (!blob) throw new OutpostError('not_found', `blob ${digest} is missing`);
  return blob.content;
}
