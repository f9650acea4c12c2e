// Sites at the hub: lookup, views, labels. Changing what a site is (its
// labels) re-runs placement for it; hearing from it only moves last_seen_at.

import { OutpostError } from '../../model/errors.ts';
import { type Connectivity, connectivityOf, type Lifecycle } from '../../model/site.ts';
import type { SitePatch, SiteView } from '../../model/wire.ts';
import { validateLabels } from '../../select/labels.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { placeSites } from '../placement/place.ts';
import type { SiteTable } from '../store/schema.ts';

export interface Site {
  id: string;
  name: string;
  labels: Record<string, string>;
  properties: Record<string, unknown>;
  lifecycle: Lifecycle;
  lastSeen: Date | undefined;
  desiredDigest: string | null;
  registeredAt: Date;
  lastReportSeq: number;
  certificateExpiresAt: Date | undefined;
}

export function siteFromRow(row: SiteTable): Site {
  return {
    id: row.id,
    name: row.name,
    labels: JSON.parse(row.labels),
    properties: JSON.parse(row.properties),
    lifecycle: row.lifecycle as Lifecycle,
    lastSeen: row.last_seen_at ? new Date(row.last_seen_at) : undefined,
    desiredDigest: row.desired_digest,
    registeredAt: new Date(row.registered_at),
    lastReportSeq: Number(row.last_report_seq),
    certificateExpiresAt: row.cert_expires_at ? new Date(row.cert_expires_at) : undefined,
  };
}

export function siteView(site: Site, connectivity: Connectivity): SiteView {
  return {
    id: site.id,
    name: site.name,
    labels: site.labels,
    properties: site.properties,
    lifecycle: site.lifecycle,
    connectivity,
    lastSeen: site.lastSeen?.toISOString() ?? null,
    desiredDigest: site.desiredDigest,
    registeredAt: site.registeredAt.toISOString(),
    certificateExpiresAt: site.certificateExpiresAt?.toISOString() ?? null,
  };
}

export function connectivityNow(ctx: HubContext, site: Site): Connectivity {
  return connectivityOf(site.lastSeen, ctx.now(), ctx.config.connectivity, site.certificateExpiresAt);
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

export async function listSites(ctx: HubContext): Promise<Site[]> {
  const rows = await ctx.store.db.selectFrom('sites').selectAll().orderBy('name').execute();
  return rows.map(siteFromRow);
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
    await ctx.store.db.transaction().execute(async (tx) => {
      await tx.updateTable('sites').set(set).where('id', '=', site.id).execute();
      await audit(tx, ctx.now(), actor, 'site.update', `site/${name}`, patch);
    });
    await placeSites(ctx, [site.id]);
  }
  return siteByName(ctx, name);
}

/** Records that the site's agent was heard from now. */
export async function touchSite(ctx: HubContext, siteId: string): Promise<void> {
  await ctx.store.db
    .updateTable('sites')
    .set({ last_seen_at: ctx.now().toISOString() })
    .where('id', '=', siteId)
    .execute();
}
