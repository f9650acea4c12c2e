// What a relay learns from the hub: one change feed per relay (every site it may serve, with its desired
// digest and accepted certificates; to a relay with a cursor, only what changed since), the signed desired
// states of the sites it asks for, and the blobs placed on them.

import { OutpostError } from '../../model/errors.ts';
import type { FeedSite, RelayFeed } from '../../model/relay-wire.ts';
import type { DesiredState } from '../../model/wire.ts';
import { signDesired, signDesiredRoot } from '../../pki/desired-signature.ts';
import { desiredTree } from '../../pki/desired-tree.ts';
import { canonicalJson, sha256Digest } from '../../render/digest.ts';
import type { HubContext } from '../context.ts';
import { desiredStates } from '../placement/desired.ts';
import { FeedLog, type SinceCursor } from './feed-log.ts';
import { type Relay, scopeMatcher, siteIdsInScope } from './relays.ts';

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

/** The serials of the sites' certificates that are neither revoked nor expired, by site. */
async function acceptedSerials(
  ctx: HubContext,
  siteIds: readonly string[],
  nowIso: string,
): Promise<Map<string, string[]>> {
  const serials = new Map<string, string[]>();
  for (let i = 0; i < siteIds.length; i += 500) {
    const certs = await ctx.store.db
      .selectFrom('certificates')
      .select(['serial', 'site_id'])
      .where('site_id', 'in', siteIds.slice(i, i + 500))
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
  return serials;
}

/**
 * Every Active site the relay may serve, in id order, and those with operations waiting (queuing one
 * wakes the feed as a desired-state change does), with the digest of the whole answer.
 */
export async function relayFeed(ctx: HubContext, relay: Relay): Promise<RelayFeed> {
  const nowIso = ctx.now().toISOString();
  const inScope = scopeMatcher(relay);
  const rows = (await sharedActiveSites(ctx)).filter((r) => inScope(r.labels));
  const serials = await acceptedSerials(
    ctx,
    rows.map((r) => r.id),
    nowIso,
  );
  const sites = rows.map((r) => ({
    id: r.id,
    name: r.name,
    digest: r.desired_digest,
    serials: serials.get(r.id) ?? [],
  }));
  const work = rows.filter((r) => ctx.work.has(r.id)).map((r) => r.id);
  return { digest: sha256Digest(canonicalJson({ sites, work })), sites, work };
}

/** Each hub context's log of what changed for the relays (one per process, fed by its notifications). */
const feedLogs = new WeakMap<HubContext, FeedLog>();

function feedLogOf(ctx: HubContext): FeedLog {
  let log = feedLogs.get(ctx);
  if (!log) {
    const made = new FeedLog({ now: () => ctx.now().getTime() });
    ctx.desiredWatch.onChange((ids) => made.desiredChanged(ids));
    ctx.certificateSites.onForget((ids) => (ids === 'all' ? made.forgetAll() : made.identityChanged(ids)));
    feedLogs.set(ctx, made);
    log = made;
  }
  return log;
}

/** The changed sites as the relay's feed lists them: those in its scope, and those it holds to drop. */
async function readDelta(
  ctx: HubContext,
  relay: Relay,
  since: SinceCursor,
): Promise<{ sites: FeedSite[]; removed: string[] }> {
  const nowIso = ctx.now().toISOString();
  const matches = scopeMatcher(relay);
  const rows: { id: string; name: string; desired_digest: string | null }[] = [];
  for (let i = 0; i < since.changed.length; i += 500) {
    const chunk = await ctx.store.db
      .selectFrom('sites')
      .select(['id', 'name', 'labels', 'lifecycle', 'desired_digest'])
      .where('id', 'in', since.changed.slice(i, i + 500))
      .execute();
    for (const r of chunk) if (r.lifecycle === 'Active' && matches(r.labels)) rows.push(r);
  }
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const serials = await acceptedSerials(
    ctx,
    rows.map((r) => r.id),
    nowIso,
  );
  const kept = new Set(rows.map((r) => r.id));
  return {
    sites: rows.map((r) => ({
      id: r.id,
      name: r.name,
      digest: r.desired_digest,
      serials: serials.get(r.id) ?? [],
    })),
    removed: since.changed.filter((id) => !kept.has(id) && since.holds.has(id)).sort(),
  };
}

/**
 * The relay's feed for a relay that keeps a cursor (`since`: its last answer's, or '' for none): only
 * what changed since, when this process gave that cursor and kept the changes since; otherwise every
 * site in full. A delta with nothing in it is held until a change concerns the relay or `waitMs` passes;
 * undefined when `signal` aborts first (nobody is listening).
 */
export async function relayFeedSince(
  ctx: HubContext,
  relay: Relay,
  since: string,
  waitMs: number,
  signal: AbortSignal,
): Promise<RelayFeed | undefined> {
  const log = feedLogOf(ctx);
  const holdUntil = Date.now() + waitMs;
  const inFull = async () => {
    const version = log.version;
    const full = await relayFeed(ctx, relay);
    if (signal.aborted) return undefined;
    const ids = full.sites.map((s) => s.id);
    return { ...full, cursor: log.answeredInFull(relay.id, version, ids) };
  };
  for (;;) {
    const cursor = log.since(relay.id, since);
    if (!cursor) return inFull();
    const { sites, removed } = await readDelta(ctx, relay, cursor);
    if (signal.aborted) return undefined;
    // a whole list that is due is given while nothing else is to be told, not in the middle of a change
    if (cursor.fullDue && sites.length === 0 && removed.length === 0) return inFull();
    const remaining = holdUntil - Date.now();
    if (sites.length > 0 || removed.length > 0 || remaining <= 0) {
      const next = log.answeredDelta(
        relay.id,
        cursor.from,
        cursor.version,
        sites.map((s) => s.id),
        removed,
      );
      const work = [...cursor.holds].filter((id) => ctx.work.has(id)).sort();
      const delta = { sites, removed, work };
      return { digest: sha256Digest(canonicalJson(delta)), ...delta, delta: true, cursor: next };
    }
    await log.wait(relay.id, cursor.version, remaining, signal);
    if (signal.aborted) return undefined;
  }
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

/**
 * The desired states of the asked sites in the relay's scope (others left out), signed by the hub once for
 * the whole answer: the CA key signs the root of a tree over the sites' (id, digest) leaves, and each
 * state carries that signature and its own proof (one signature per site cost more than the rest of the
 * answer). With `relaySignatures: 'per-site'` each state is signed alone, as agents before the tree expect.
 */
export async function signedDesiredStates(
  ctx: HubContext,
  relay: Relay,
  siteIds: readonly string[],
): Promise<{ siteId: string; state: DesiredState }[]> {
  const states = [...(await desiredStates(ctx.store.db, await siteIdsInScope(ctx, relay, siteIds)))];
  if (states.length === 0) return [];
  if (ctx.config.relaySignatures === 'per-site') {
    return states.map(([siteId, state]) => ({
      siteId,
      state: { ...state, signature: signDesired(ctx.tls.ca.keyPem, siteId, state.digest) },
    }));
  }
  const { root, proofs } = desiredTree(states.map(([siteId, state]) => ({ siteId, digest: state.digest })));
  const signature = signDesiredRoot(ctx.tls.ca.keyPem, root);
  return states.map(([siteId, state], i) => ({ siteId, state: { ...state, signature, proof: proofs[i] } }));
}

/** A rendered blob, for a relay that serves a site it is placed on. */
export async function relayBlob(ctx: HubContext, relay: Relay, digest: string): Promise<string> {
  const placedOn = await ctx.store.db
    .selectFrom('deployments')
    .select('site_id')
    .where('desired_digest', '=', digest)
    .limit(10_000)
    .execute();
  const allowed = await siteIdsInScope(
    ctx,
    relay,
    placedOn.map((p) => p.site_id),
  );
  if (allowed.length === 0) {
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
