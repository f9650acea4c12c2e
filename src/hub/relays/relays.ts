// Regional relays as the hub knows them: made by an admin with a name and the label selector of the sites
// the relay may serve, enrolled once with its join token's secret (a serving and a client certificate
// from the fleet CA), found by the client certificate it calls with, and scoped on every call.

import { isIP } from 'node:net';
import { OutpostError } from '../../model/errors.ts';
import type {
  RelayEnrolRequest,
  RelayEnrolResponse,
  RelayRenewRequest,
  RelayStatus,
  RelayView,
} from '../../model/relay-wire.ts';
import type { Connectivity, Lifecycle } from '../../model/site.ts';
import { backdatedValidity, issueCertificate } from '../../pki/authority.ts';
import { verifyCsr } from '../../pki/csr.ts';
import { PkiError } from '../../pki/errors.ts';
import { type LabelSelector, matchesSelector, validateSelector } from '../../select/labels.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { hashSecret, newSecret, secretMatches, splitToken } from '../credentials.ts';
import { newId } from '../ids.ts';
import type { AgentSite } from '../sites/sites.ts';
import { emitEvents } from '../status/events.ts';
import type { Db, RelayTable } from '../store/schema.ts';

/** A relay that called with its certificate: what every relay route needs to scope its answer. */
export interface Relay {
  id: string;
  name: string;
  selector: LabelSelector;
}

function relayView(row: RelayTable, sites: number): RelayView {
  return {
    id: row.id,
    name: row.name,
    selector: JSON.parse(row.selector),
    enrolled: row.cert_serial !== null,
    revoked: row.revoked_at !== null,
    createdAt: row.created_at,
    lastSeen: row.last_seen_at,
    status: row.status ? (JSON.parse(row.status) as RelayStatus) : null,
    lostSince: row.lost_at,
    sites,
  };
}

/** Makes a relay and returns the secret of its join token (shown once) with its view. */
export async function createRelay(
  ctx: HubContext,
  actor: Actor,
  spec: { name: string; selector: LabelSelector },
): Promise<{ token: string; view: RelayView }> {
  const problem = validateSelector(spec.selector)[0];
  if (problem) throw new OutpostError('selector_invalid', `selector${problem.path}: ${problem.message}`);
  const now = ctx.now();
  const secret = newSecret();
  const row: RelayTable = {
    id: newId(now),
    name: spec.name,
    selector: JSON.stringify(spec.selector),
    enrol_hash: hashSecret(secret),
    cert_serial: null,
    cert_not_after: null,
    created_at: now.toISOString(),
    created_by: actor.name,
    revoked_at: null,
    last_seen_at: null,
    status: null,
    lost_at: null,
  };
  await ctx.store.db.transaction().execute(async (tx) => {
    const taken = await tx.selectFrom('relays').select('id').where('name', '=', spec.name).executeTakeFirst();
    if (taken) throw new OutpostError('conflict', `relay ${spec.name} exists`);
    await tx.insertInto('relays').values(row).execute();
    await audit(tx, now, actor, 'relay.create', `relay/${spec.name}`, { selector: spec.selector });
  });
  return { token: `${row.id}.${secret}`, view: relayView(row, 0) };
}

/** Sites come through a relay while its batches are the latest the hub heard of them. */
function routedViaRelay(ctx: HubContext) {
  return ctx.store.db
    .selectFrom('sites')
    .where('via_relay_id', 'is not', null)
    .whereRef('via_relay_at', '>=', 'last_seen_at');
}

export async function listRelays(ctx: HubContext): Promise<RelayView[]> {
  const rows = await ctx.store.db.selectFrom('relays').selectAll().orderBy('name').execute();
  const counts = await routedViaRelay(ctx)
    .select(['via_relay_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('via_relay_id')
    .execute();
  const sites = new Map(counts.map((c) => [c.via_relay_id, Number(c.n)]));
  return rows.map((r) => relayView(r, sites.get(r.id) ?? 0));
}

/** One relay with the sites that come through it (by name, the first `limit`). */
export async function relayDetail(
  ctx: HubContext,
  name: string,
  limit: number,
): Promise<RelayView & { siteNames: string[] }> {
  const row = await ctx.store.db.selectFrom('relays').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no relay ${name}`);
  const routed = routedViaRelay(ctx).where('via_relay_id', '=', row.id);
  const count = await routed.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const names = await routed.select('name').orderBy('name').limit(limit).execute();
  return { ...relayView(row, Number(count.n)), siteNames: names.map((n) => n.name) };
}

/**
 * Marks relays silent for longer than a site may be before it is Stale as lost, one relay_lost event
 * each (a conditional update, so replicas sweeping at once emit it once); returns every lost relay's
 * name by id.
 */
export async function findLostRelays(ctx: HubContext): Promise<Map<string, string>> {
  const now = ctx.now();
  const cut = new Date(now.getTime() - ctx.config.connectivity.staleAfterMs).toISOString();
  const silent = await ctx.store.db
    .selectFrom('relays')
    .select(['id', 'name', 'last_seen_at'])
    .where('lost_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('last_seen_at', '<', cut)
    .execute();
  for (const r of silent) {
    const marked = await ctx.store.db
      .updateTable('relays')
      .set({ lost_at: now.toISOString() })
      .where('id', '=', r.id)
      .where('lost_at', 'is', null)
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) === 0) continue;
    const sites = await routedViaRelay(ctx)
      .where('via_relay_id', '=', r.id)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    await emitEvents(ctx, [
      {
        type: 'relay_lost',
        message: `relay ${r.name} is silent since ${r.last_seen_at}: its ${Number(sites.n)} sites are Stale via it until they fall back to the hub`,
        details: { relay: r.name, lastSeen: r.last_seen_at, sites: Number(sites.n) },
      },
    ]);
  }
  const lost = await ctx.store.db
    .selectFrom('relays')
    .select(['id', 'name'])
    .where('lost_at', 'is not', null)
    .where('revoked_at', 'is', null)
    .execute();
  return new Map(lost.map((r) => [r.id, r.name]));
}

/** Revokes a relay: its certificate is refused from the next call on; its sites fall back to the hub. */
export async function revokeRelay(ctx: HubContext, actor: Actor, name: string): Promise<void> {
  const now = ctx.now();
  await ctx.store.db.transaction().execute(async (tx) => {
    const done = await tx
      .updateTable('relays')
      .set({ revoked_at: now.toISOString(), enrol_hash: null })
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) throw new OutpostError('not_found', `no active relay ${name}`);
    await audit(tx, now, actor, 'relay.revoke', `relay/${name}`);
  });
}

/**
 * Spends the join token's secret (once) on two certificates for the CSR's key: one to serve agents under
 * the relay's names, one to call the hub with.
 */
export async function enrolRelay(ctx: HubContext, req: RelayEnrolRequest): Promise<RelayEnrolResponse> {
  const parts = splitToken(req.token);
  if (!parts) throw new OutpostError('unauthorized', 'not a relay token');
  const publicKeyPem = csrKey(req.csr);
  const now = ctx.now();
  return ctx.store.db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('relays').selectAll().where('id', '=', parts.id).executeTakeFirst();
    if (!row?.enrol_hash || row.revoked_at || !secretMatches(parts.secret, row.enrol_hash)) {
      throw new OutpostError('unauthorized', 'invalid, used or revoked relay token');
    }
    const issued = await issueRelayCertificates(ctx, tx, row, publicKeyPem, req.names, now);
    await audit(tx, now, { name: `relay:${row.name}`, source: 'enrol' }, 'relay.enrol', `relay/${row.name}`, {
      names: req.names,
    });
    return issued;
  });
}

/**
 * A relay renews with the certificate it calls with (as an agent renews its site's): two new
 * certificates for a new key; the old client certificate is refused from then on.
 */
export async function renewRelay(
  ctx: HubContext,
  relay: Relay,
  req: RelayRenewRequest,
): Promise<RelayEnrolResponse> {
  const publicKeyPem = csrKey(req.csr);
  const now = ctx.now();
  return ctx.store.db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom('relays')
      .selectAll()
      .where('id', '=', relay.id)
      .executeTakeFirstOrThrow();
    const issued = await issueRelayCertificates(ctx, tx, row, publicKeyPem, req.names, now);
    await audit(tx, now, { name: `relay:${row.name}`, source: 'renew' }, 'relay.renew', `relay/${row.name}`, {
      names: req.names,
    });
    return issued;
  });
}

function csrKey(csr: string): string {
  try {
    return verifyCsr(csr).publicKeyPem;
  } catch (e) {
    if (e instanceof PkiError) throw new OutpostError('csr_invalid', e.message);
    throw e;
  }
}

/**
 * A serving certificate under the relay's names and a client certificate, as long-lived as a site's
 * (the relay renews at two thirds of it); only the client certificate's serial is recorded: it is the
 * one the hub authenticates the relay by.
 */
async function issueRelayCertificates(
  ctx: HubContext,
  tx: Db,
  row: Pick<RelayTable, 'id' | 'name'>,
  publicKeyPem: string,
  names: readonly string[],
  now: Date,
): Promise<RelayEnrolResponse> {
  const validity = backdatedValidity(now, ctx.config.certificateValidityDays * 86400_000);
  const server = issueCertificate(ctx.tls.ca, {
    publicKeyPem,
    commonName: `relay-${row.name}`,
    dnsNames: names.filter((n) => !isIP(n)),
    ipAddresses: names.filter((n) => isIP(n)),
    usage: 'server',
    ...validity,
  });
  const client = issueCertificate(ctx.tls.ca, {
    publicKeyPem,
    commonName: `relay-${row.name}`,
    usage: 'client',
    ...validity,
  });
  await tx
    .updateTable('relays')
    .set({ enrol_hash: null, cert_serial: client.serialHex, cert_not_after: client.notAfter.toISOString() })
    .where('id', '=', row.id)
    .execute();
  return { name: row.name, serverCertPem: server.certPem, clientCertPem: client.certPem };
}

/** The relay a verified client certificate belongs to, or why it is refused. */
export async function relayByCertificate(
  ctx: HubContext,
  serialHex: string,
): Promise<Relay | { refused: string }> {
  const row = await ctx.store.db
    .selectFrom('relays')
    .select(['id', 'name', 'selector', 'revoked_at', 'cert_not_after'])
    .where('cert_serial', '=', serialHex)
    .executeTakeFirst();
  if (!row) return { refused: 'not a relay certificate' };
  if (row.revoked_at) return { refused: `relay ${row.name} is revoked` };
  return { id: row.id, name: row.name, selector: JSON.parse(row.selector) };
}

/**
 * What the relay said of itself, and that it was heard from now; a relay that was lost has returned
 * (one relay_returned event). Returns whether it had been lost.
 */
export async function noteRelayContact(ctx: HubContext, relay: Relay, status: RelayStatus): Promise<boolean> {
  const now = ctx.now().toISOString();
  const back = await ctx.store.db
    .updateTable('relays')
    .set({ lost_at: null })
    .where('id', '=', relay.id)
    .where('lost_at', 'is not', null)
    .executeTakeFirst();
  await ctx.store.db
    .updateTable('relays')
    .set({ last_seen_at: now, status: JSON.stringify(status) })
    .where('id', '=', relay.id)
    .execute();
  const returned = Number(back.numUpdatedRows) > 0;
  if (returned) {
    await emitEvents(ctx, [
      { type: 'relay_returned', message: `relay ${relay.name} is back`, details: { relay: relay.name } },
    ]);
  }
  return returned;
}

/** The sites the relay heard from come through it (until the hub hears from one directly). */
export async function noteRoutedSites(
  ctx: HubContext,
  relay: Relay,
  siteIds: readonly string[],
): Promise<void> {
  const now = ctx.now().toISOString();
  for (let i = 0; i < siteIds.length; i += 500) {
    await ctx.store.db
      .updateTable('sites')
      .set({ via_relay_id: relay.id, via_relay_at: now })
      .where('id', 'in', siteIds.slice(i, i + 500))
      .execute();
  }
}

/** A matcher of label sets (JSON text) against the relay's selector: sites share a few, each parsed once. */
export function scopeMatcher(relay: Relay): (labels: string) => boolean {
  const matched = new Map<string, boolean>();
  return (labels) => {
    let matches = matched.get(labels);
    if (matches === undefined) {
      matches = matchesSelector(relay.selector, JSON.parse(labels));
      matched.set(labels, matches);
    }
    return matches;
  };
}

/**
 * Which of the given sites the relay may serve: Active and matching its selector. The sites' label sets
 * are parsed and matched once per distinct set (scopeMatcher): a relay answer needs only the ids.
 */
export async function siteIdsInScope(
  ctx: HubContext,
  relay: Relay,
  siteIds: readonly string[],
): Promise<string[]> {
  const inScope = scopeMatcher(relay);
  const served: string[] = [];
  for (let i = 0; i < siteIds.length; i += 500) {
    const rows = await ctx.store.db
      .selectFrom('sites')
      .select(['id', 'labels'])
      .where('id', 'in', siteIds.slice(i, i + 500))
      .where('lifecycle', '=', 'Active')
      .execute();
    for (const r of rows) if (inScope(r.labels)) served.push(r.id);
  }
  return served;
}

/**
 * The given sites as agents' requests see them, those the relay may serve only: Active and matching its
 * selector. A relay asking for any other site gets nothing for it.
 */
export async function sitesInScope(
  ctx: HubContext,
  relay: Relay,
  siteIds: readonly string[],
): Promise<Map<string, AgentSite>> {
  const inScope = scopeMatcher(relay);
  const out = new Map<string, AgentSite>();
  for (let i = 0; i < siteIds.length; i += 500) {
    const rows = await ctx.store.db
      .selectFrom('sites')
      .select(['id', 'name', 'labels', 'lifecycle', 'connectivity', 'desired_digest'])
      .where('id', 'in', siteIds.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      if (r.lifecycle !== 'Active' || !inScope(r.labels)) continue;
      const labels = JSON.parse(r.labels) as Record<string, string>;
      out.set(r.id, {
        id: r.id,
        name: r.name,
        labels,
        lifecycle: r.lifecycle as Lifecycle,
        connectivity: r.connectivity as Connectivity,
        desiredDigest: r.desired_digest,
      });
    }
  }
  return out;
}
