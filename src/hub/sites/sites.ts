// Sites at the hub: registration, lookup by name or credential, labels. Changing what a site is (its
// labels) re-runs placement for it; both are recorded status changes (aggregates, events).

import { randomUUID } from 'node:crypto';
import { OutpostError } from '../../model/errors.ts';
import { type Connectivity, type Lifecycle, siteNameProblem } from '../../model/site.ts';
import type { RegisterRequest, SitePatch, SiteView } from '../../model/wire.ts';
import { validateLabels } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import { hashCredential, newCredential } from '../credentials.ts';
import { placeSites } from '../placement/place.ts';
import { heardFrom } from '../status/connectivity.ts';
import { changeSites, loadFacts, recordChanges } from '../status/site-status.ts';
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
  connectivity: Connectivity;
  connectivitySince: Date;
  lastReport: Date | undefined;
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
    connectivity: row.connectivity as Connectivity,
    connectivitySince: new Date(row.connectivity_since ?? row.registered_at),
    lastReport: row.last_report_at ? new Date(row.last_report_at) : undefined,
  };
}

export function siteView(site: Site): SiteView {
  return {
    id: site.id,
    name: site.name,
    labels: site.labels,
    properties: site.properties,
    lifecycle: site.lifecycle,
    connectivity: site.connectivity,
    connectivitySince: site.connectivitySince.toISOString(),
    lastSeen: site.lastSeen?.toISOString() ?? null,
    lastReport: site.lastReport?.toISOString() ?? null,
    desiredDigest: site.desiredDigest,
    registeredAt: site.registeredAt.toISOString(),
  };
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
    await db.transaction().execute(async (tx) => {
      await tx
        .updateTable('sites')
        .set({ credential_hash: hashCredential(credential), facts: JSON.stringify(req.facts ?? {}) })
        .where('id', '=', existing.id)
        .execute();
      await recordChanges(
        ctx,
        tx,
        [],
        [
          {
            type: 'registered',
            site: req.name,
            message: `${req.name} registered again`,
            details: { again: true },
          },
        ],
      );
    });
    await heardFrom(ctx, siteFromRow(existing));
    ctx.events.notify();
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
    connectivity: 'Online',
    connectivity_since: now,
    last_report_at: null,
    worst_state: null,
    attention_rank: 0,
    attention_reason: null,
    attention_detail: null,
    attention_since: null,
  };
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('sites').values(row).execute();
    const after = (await loadFacts(tx, [row.id])).get(row.id);
    await recordChanges(
      ctx,
      tx,
      [{ siteId: row.id, before: undefined, after }],
      [
        {
          type: 'registered',
          site: row.name,
          message: `${row.name} registered`,
          details: { labels: req.labels ?? {} },
        },
      ],
    );
  });
  ctx.events.notify();
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
    await changeSites(ctx, [site.id], (tx) =>
      tx.updateTable('sites').set(set).where('id', '=', site.id).execute(),
    );
    await placeSites(ctx, [site.id]);
  }
  return siteByName(ctx, name);
}

/** Records that the site's agent was heard from now (Online again if it was not). */
export async function touchSite(ctx: HubContext, site: Site): Promise<void> {
  await heardFrom(ctx, site);
}
