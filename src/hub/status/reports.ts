// Reports flow up from agents: each is sequenced per site, so a replayed or duplicated report changes
// nothing. A report about a digest the hub no longer wants there only records what is applied.

import type { DeploymentState } from '../../model/deployment.ts';
import type { DeploymentView, Report } from '../../model/wire.ts';
import type { HubContext } from '../context.ts';
import type { Site } from '../sites/sites.ts';
import type { DeploymentTable } from '../store/schema.ts';

const appliedStates = new Set(['Ready', 'NotReady', 'Drifted']);

export async function ingestReport(
  ctx: HubContext,
  site: Site,
  report: Report,
): Promise<{ accepted: boolean; lastSeq: number }> {
  const now = ctx.now().toISOString();
  return ctx.store.db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom('sites')
      .select(['last_report_seq'])
      .where('id', '=', site.id)
      .executeTakeFirstOrThrow();
    const lastSeq = Number(row.last_report_seq);
    await tx.updateTable('sites').set({ last_seen_at: now }).where('id', '=', site.id).execute();
    if (report.seq <= lastSeq) return { accepted: false, lastSeq };
    for (const d of report.deployments) {
      const current = await tx
        .selectFrom('deployments')
        .select(['desired_digest', 'render_error'])
        .where('site_id', '=', site.id)
        .where('bundle', '=', d.bundle)
        .executeTakeFirst();
      if (!current) continue;
      const set: Partial<DeploymentTable> = { updated_at: now };
      if (appliedStates.has(d.state)) set.applied_digest = d.digest;
      // a site the current revision cannot be rendered for stays Failed whatever it reports on the old one
      if (current.desired_digest === d.digest && !current.render_error) {
        set.state = d.state;
        set.message = d.message ?? '';
        set.total = d.counts.total;
        set.applied = d.counts.applied;
        set.ready = d.counts.ready;
        set.not_ready = JSON.stringify(d.notReady ?? []);
      }
      await tx
        .updateTable('deployments')
        .set(set)
        .where('site_id', '=', site.id)
        .where('bundle', '=', d.bundle)
        .execute();
    }
    for (const bundle of report.removed ?? []) {
      await tx
        .deleteFrom('deployments')
        .where('site_id', '=', site.id)
        .where('bundle', '=', bundle)
        .where('desired_digest', 'is', null)
        .execute();
    }
    await tx.updateTable('sites').set({ last_report_seq: report.seq }).where('id', '=', site.id).execute();
    return { accepted: true, lastSeq: report.seq };
  });
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
