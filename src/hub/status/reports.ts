// Reports flow up from agents: each is sequenced per site, so a replayed or duplicated report changes
// nothing. A report about a digest the hub no longer wants there only records what is applied.

import type { DeploymentState } from '../../model/deployment.ts';
import type { DeploymentView, Report } from '../../model/wire.ts';
import type { HubContext } from '../context.ts';
import type { Site } from '../sites/sites.ts';
import type { DeploymentTable, SiteTable } from '../store/schema.ts';
import type { SiteFacts } from './aggregate.ts';
import {
  deploymentFactColumns,
  deploymentFacts,
  derivedColumns,
  recordChanges,
  siteFactColumns,
  siteFacts,
} from './site-status.ts';

const appliedStates = new Set(['Ready', 'NotReady', 'Drifted']);

/**
 * Ingests one report in one transaction that reads the site and its deployments once, and from those
 * rows alone works out the new facts, the aggregate deltas, attention and events.
 */
export async function ingestReport(
  ctx: HubContext,
  site: Site,
  report: Report,
): Promise<{ accepted: boolean; lastSeq: number }> {
  const now = ctx.now().toISOString();
  let stored = 0;
  const result = await ctx.store.db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom('sites')
      .select([...siteFactColumns, 'last_report_seq'])
      .where('id', '=', site.id)
      .executeTakeFirstOrThrow();
    const lastSeq = Number(row.last_report_seq);
    const rows = await tx
      .selectFrom('deployments')
      .select(deploymentFactColumns)
      .where('site_id', '=', site.id)
      .orderBy('bundle')
      .execute();
    const before = siteFacts(
      row,
      rows.map((r) => deploymentFacts(r)),
    );
    const connectivity = before.connectivity === 'Expired' ? 'Expired' : 'Online';
    const contact: Partial<SiteTable> = { last_seen_at: now };
    if (connectivity !== before.connectivity) {
      contact.connectivity = connectivity;
      contact.connectivity_since = now;
    }
    let after: SiteFacts = {
      ...before,
      connectivity,
      connectivitySince: contact.connectivity_since ?? before.connectivitySince,
    };
    if (report.seq <= lastSeq) {
      await tx.updateTable('sites').set(contact).where('id', '=', site.id).execute();
      if (contact.connectivity) stored = await recordChanges(ctx, tx, [{ siteId: site.id, before, after }]);
      return { accepted: false, lastSeq };
    }
    const byBundle = new Map(rows.map((r) => [r.bundle, r]));
    const next = new Map(before.deployments.map((d) => [d.bundle, d]));
    for (const d of report.deployments) {
      const current = byBundle.get(d.bundle);
      if (!current) continue;
      const set: Partial<DeploymentTable> = { updated_at: now };
      if (appliedStates.has(d.state)) set.applied_digest = d.digest;
      if (current.desired_digest === d.digest) {
        const facts = next.get(d.bundle)!;
        const changed = facts.state !== d.state;
        set.state = d.state;
        set.message = d.message ?? '';
        set.total = d.counts.total;
        set.applied = d.counts.applied;
        set.ready = d.counts.ready;
        set.not_ready = JSON.stringify(d.notReady ?? []);
        if (changed) set.state_since = now;
        next.set(d.bundle, {
          ...facts,
          state: d.state,
          message: set.message,
          stateSince: changed ? now : facts.stateSince,
        });
      }
      await tx
        .updateTable('deployments')
        .set(set)
        .where('site_id', '=', site.id)
        .where('bundle', '=', d.bundle)
        .execute();
    }
    for (const bundle of report.removed ?? []) {
      const current = byBundle.get(bundle);
      if (!current || current.desired_digest !== null) continue;
      await tx
        .deleteFrom('deployments')
        .where('site_id', '=', site.id)
        .where('bundle', '=', bundle)
        .where('desired_digest', 'is', null)
        .execute();
      next.delete(bundle);
    }
    after = { ...after, deployments: [...next.values()] };
    await tx
      .updateTable('sites')
      .set({ ...contact, last_report_seq: report.seq, last_report_at: now, ...derivedColumns(after) })
      .where('id', '=', site.id)
      .execute();
    stored = await recordChanges(ctx, tx, [{ siteId: site.id, before, after }], [], { derivedWritten: true });
    return { accepted: true, lastSeq: report.seq };
  });
  if (stored > 0) ctx.events.notify();
  return result;
}

export function deploymentView(siteName: string, row: DeploymentTable): DeploymentView {
  return {
    site: siteName,
    bundle: row.bundle,
    desiredRevision: row.desired_revision === null ? null : Number(row.desired_revision),
    desiredDigest: row.desired_digest,
    appliedDigest: row.applied_digest,
    state: row.state as DeploymentState,
    message: row.message,
    counts: { total: Number(row.total), applied: Number(row.applied), ready: Number(row.ready) },
    notReady: JSON.parse(row.not_ready),
    updatedAt: row.updated_at,
  };
}

export async function deploymentsOfSite(ctx: HubContext, site: Site): Promise<DeploymentView[]> {
  const rows = await ctx.store.db
    .selectFrom('deployments')
    .selectAll()
    .where('site_id', '=', site.id)
    .orderBy('bundle')
    .execute();
  return rows.map((r) => deploymentView(site.name, r));
}
