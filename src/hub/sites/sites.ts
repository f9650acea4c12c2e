// Sites at the hub: lookup, views, labels. Changing what a site is (its labels) re-runs placement
// for it; every change of a counted fact is recorded (aggregates, events).

import { sql } from 'kysely';
import { OutpostError } from '../../model/errors.ts';
import type { Connectivity, Lifecycle } from '../../model/site.ts';
import type { SitePatch, SiteView } from '../../model/wire.ts';
import { type LabelSelector, validateLabels } from '../../select/labels.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { placeSites } from '../placement/place.ts';
import { heardFrom } from '../status/connectivity.ts';
import { withinSql } from '../status/query-sql.ts';
import { changeSites } from '../status/site-status.ts';
import type { SiteTable } from '../store/schema.ts';
import { siteIdentityChanged } from './certificate-sites.ts';

export interface Site {
  id: string;
  name: string;
  labels: Record<string, string>;
  properties: Record<string, unknown>;
  facts: Record<string, unknown>;
  lifecycle: Lifecycle;
  lastSeen: Date | undefined;
  desiredDigest: string | null;
  registeredAt: Date;
  lastReportSeq: number;
  certificateExpiresAt: Date | undefined;
  connectivity: Connectivity;
  connectivitySince: Date;
  lastReport: Date | undefined;
  droppedReports: number;
}

/**
 * An authenticated agent's site as one request sees it: what authentication read with the certificate
 * (auth.ts), enough to answer a long-poll, ingest a report or telemetry without reading the site again.
 */
export type AgentSite = Pick<Site, 'id' | 'name' | 'labels' | 'lifecycle' | 'connectivity' | 'desiredDigest'>;

/**
 * A new site row: what the caller knows, with everything the hub derives later (identity, connectivity,
 * status columns) at its starting value. Registration, seeding and benchmarks all build rows with it.
 */
export function newSiteRow(
  fields: Pick<SiteTable, 'id' | 'name' | 'lifecycle' | 'registered_at'> & Partial<SiteTable>,
): SiteTable {
  return {
    labels: '{}',
    properties: '{}',
    facts: '{}',
    last_seen_at: null,
    desired_digest: null,
    last_report_seq: 0,
    machine_id: null,
    cert_expires_at: null,
    ticket_hash: null,
    pending_csr: null,
    issued_cert: null,
    connectivity: fields.last_seen_at ? 'Online' : 'Offline',
    connectivity_since: fields.last_seen_at ?? fields.registered_at,
    last_report_at: null,
    worst_state: null,
    attention_rank: 0,
    attention_reason: null,
    attention_detail: null,
    attention_since: null,
    sealing_key: null,
    sealing_key_at: null,
    stack: null,
    stack_at: null,
    via_relay_id: null,
    via_relay_at: null,
    dropped_reports: 0,
    dropped_reports_before: 0,
    ...fields,
  };
}

export function siteFromRow(row: SiteTable): Site {
  return {
    id: row.id,
    name: row.name,
    labels: JSON.parse(row.labels),
    properties: JSON.parse(row.properties),
    facts: JSON.parse(row.facts),
    lifecycle: row.lifecycle as Lifecycle,
    lastSeen: row.last_seen_at ? new Date(row.last_seen_at) : undefined,
    desiredDigest: row.desired_digest,
    registeredAt: new Date(row.registered_at),
    lastReportSeq: Number(row.last_report_seq),
    certificateExpiresAt: row.cert_expires_at ? new Date(row.cert_expires_at) : undefined,
    connectivity: row.connectivity as Connectivity,
    connectivitySince: new Date(row.connectivity_since ?? row.registered_at),
    lastReport: row.last_report_at ? new Date(row.last_report_at) : undefined,
    droppedReports: Number(row.dropped_reports),
  };
}

export function siteView(site: Site): SiteView {
  return {
    id: site.id,
    name: site.name,
    labels: site.labels,
    properties: site.properties,
    facts: site.facts,
    lifecycle: site.lifecycle,
    connectivity: site.connectivity,
    connectivitySince: site.connectivitySince.toISOString(),
    lastSeen: site.lastSeen?.toISOString() ?? null,
    lastReport: site.lastReport?.toISOString() ?? null,
    droppedReports: site.droppedReports,
    desiredDigest: site.desiredDigest,
    registeredAt: site.registeredAt.toISOString(),
    certificateExpiresAt: site.certificateExpiresAt?.toISOString() ?? null,
  };
}

export function assertLabels(labels: Record<string, string> | undefined): void {
  if (!labels) return;
  const problem = validateLabels(labels, 'labels')[0];
  if (problem) throw new OutpostError('request_invalid', `${problem.path}: ${problem.message}`);
}

export async function siteByName(ctx: HubContext, name: string): Promise<Site> {
  const row = await ctx.store.db.selectFrom('sites').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no site named ${name}`);
  return siteFromRow(row);
}

/** Every site, or only those one of `within` picks (a scoped token's reach). */
export async function listSites(ctx: HubContext, within?: readonly LabelSelector[]): Promise<Site[]> {
  let q = ctx.store.db.selectFrom('sites as s').selectAll().orderBy('name');
  if (within) q = q.where(sql<boolean>`${withinSql(within, ctx.store.sql)}`);
  return (await q.execute()).map(siteFromRow);
}

export async function patchSite(
  ctx: HubContext,
  actor: Actor,
  name: string,
  patch: SitePatch,
): Promise<Site> {
  assertLabels(patch.labels);
  const site = await siteByName(ctx, name);
  const set: Partial<SiteTable> = {};
  if (patch.labels) set.labels = JSON.stringify(patch.labels);
  if (patch.properties) set.properties = JSON.stringify(patch.properties);
  if (Object.keys(set).length > 0) {
    await changeSites(ctx, [site.id], async (tx) => {
      await tx.updateTable('sites').set(set).where('id', '=', site.id).execute();
      await audit(tx, ctx.now(), actor, 'site.update', `site/${name}`, patch);
    });
    if (patch.labels) siteIdentityChanged(ctx, [site.id]);
    await placeSites(ctx, [site.id]);
  }
  return siteByName(ctx, name);
}

/** Records that the site's agent was heard from now (Online again if it was not). */
export async function touchSite(ctx: HubContext, site: AgentSite): Promise<void> {
  await heardFrom(ctx, site);
  ctx.certificateSites.heard(site.id, ctx.now());
}
