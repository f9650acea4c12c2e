// Sites at the hub: registration, lookup by name or credential, labels. Changing what a site is (its
// labels) re-runs placement for it; hearing from it only moves last_seen_at.

import { randomUUID } from 'node:crypto';
import { OutpostError } from '../../model/errors.ts';
import { type Connectivity, connectivityOf, type Lifecycle, siteNameProblem } from '../../model/site.ts';
import type { RegisterRequest, SitePatch, SiteView } from '../../model/wire.ts';
import { validateLabels } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import { hashCredential, newCredential } from '../credentials.ts';
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
  };
}

export function connectivityNow(ctx: HubContext, site: Site): Connectivity {
  return connectivityOf(site.lastSeen, ctx.now(), ctx.config.connectivity);
}

function assertLabels(labels: Record<string, string> | undefined): void {
  if (!labels) return;
  const problem = validateLabels(labels, 'labels')[0];
  if (problem) throw new OutpostError('request_invalid', `${problem.path}: ${problem.message}`);
}

/**
 * Registers a site, or re-registers one that already exists under that name (a reinstalled agent):
 * either way the site gets a fresh credential and the old one stops working.
 */
export async function registerSite(
  ctx: HubContext,
  req: RegisterRequest,
): Promise<{ site: Site; credential: string }> {
  const nameProblem = siteNameProblem(req.name);
  if (nameProblem) throw new OutpostError('request_invalid', `name "${req.name}": ${nameProblem}`);
  assertLabels(req.labels);
  const credential = newCredential('site');
  const now = ctx.now().toISOString();
  const db = ctx.store.db;
  const existing = await db.selectFrom('sites').selectAll().where('name', '=', req.name).executeTakeFirst();
  if (existing) {
    if (existing.lifecycle === 'Decommissioned') {
      throw new OutpostError(
        'registration_refused',
        `site ${req.name} was decommissioned; choose another name`,
      );
    }
    await db
      .updateTable('sites')
      .set({
        credential_hash: hashCredential(credential),
        facts: JSON.stringify(req.facts ?? {}),
        last_seen_at: now,
      })
      .where('id', '=', existing.id)
      .execute();
    const row = await db
      .selectFrom('sites')
      .selectAll()
      .where('id', '=', existing.id)
      .executeTakeFirstOrThrow();
    return { site: siteFromRow(row), credential };
  }
  const row: SiteTable = {
    id: randomUUID(),
    name: req.name,
    labels: JSON.stringify(req.labels ?? {}),
    properties: JSON.stringify(req.properties ?? {}),
    facts: JSON.stringify(req.facts ?? {}),
    lifecycle: 'Active',
    credential_hash: hashCredential(credential),
    registered_at: now,
    last_seen_at: now,
    desired_digest: null,
    last_report_seq: 0,
  };
  await db.insertInto('sites').values(row).execute();
  await placeSites(ctx, [row.id]);
  const placed = await db.selectFrom('sites').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
  return { site: siteFromRow(placed), credential };
}

export async function siteByCredential(ctx: HubContext, credential: string): Promise<Site | undefined> {
  const row = await ctx.store.db
    .selectFrom('sites')
    .selectAll()
    .where('credential_hash', '=', hashCredential(credential))
    .executeTakeFirst();
  return row ? siteFromRow(row) : undefined;
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

export async function patchSite(ctx: HubContext, name: string, patch: SitePatch): Promise<Site> {
  assertLabels(patch.labels);
  const site = await siteByName(ctx, name);
  const set: Partial<SiteTable> = {};
  if (patch.labels) set.labels = JSON.stringify(patch.labels);
  if (patch.properties) set.properties = JSON.stringify(patch.properties);
  if (Object.keys(set).length > 0) {
    await ctx.store.db.updateTable('sites').set(set).where('id', '=', site.id).execute();
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
