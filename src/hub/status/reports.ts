// Reports flow up from agents: each is sequenced per site, so a replayed or duplicated report changes
// nothing. A report about a digest the hub no longer wants there only records what is applied.

import type { DeploymentState } from '../../model/deployment.ts';
import type { DeploymentView, Report } from '../../model/wire.ts';
import type { HubContext } from '../context.ts';
import { placeSites } from '../placement/place.ts';
import type { Site } from '../sites/sites.ts';
import type { Db, DeploymentTable, SiteTable } from '../store/schema.ts';
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

export interface ReportAck {
  accepted: boolean;
  lastSeq: number;
}

/**
 * Ingests one report inside the caller's transaction: reads the site and its deployments once, and
 * from those rows alone works out the new facts, the aggregate deltas, attention and events. Returns
 * the ack and how many events it stored (wake the streams after the commit).
 */
export async function ingestInTransaction(
  ctx: HubContext,
  tx: Db,
  site: Pick<Site, 'id'>,
  report: Report,
): Promise<{ ack: ReportAck; events: number; kubernetesVersionChanged?: boolean }> {
  const now = ctx.now().toISOString();
  const row = await tx
    .selectFrom('sites')
    .select([...siteFactColumns, 'last_report_seq', 'stack', 'facts'])
    .where('id', '=', site.id)
    .executeTakeFirstOrThrow();
  const lastSeq = Number(row.last_report_seq);
  const rows = await tx
    .selectFrom('deployments')
    .select([
      ...deploymentFactColumns,
      'applied_digest',
      'total',
      'applied',
      'ready',
      'not_ready',
      'render_error',
    ])
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
    const events = contact.connectivity
      ? await recordChanges(ctx, tx, [{ siteId: site.id, before, after }])
      : 0;
    return { ack: { accepted: false, lastSeq }, events };
  }
  const byBundle = new Map(rows.map((r) => [r.bundle, r]));
  const next = new Map(before.deployments.map((d) => [d.bundle, d]));
  for (const d of report.deployments) {
    const current = byBundle.get(d.bundle);
    if (!current) continue;
    const set: Partial<DeploymentTable> = {};
    if (appliedStates.has(d.state) && current.applied_digest !== d.digest) set.applied_digest = d.digest;
    // a site the current revision cannot be rendered for stays Failed whatever it reports on the old one
    if (current.desired_digest === d.digest && !current.render_error) {
      const facts = next.get(d.bundle)!;
      const changed = facts.state !== d.state;
      const message = d.message ?? '';
      const notReady = JSON.stringify(d.notReady ?? []);
      if (changed) {
        set.state = d.state;
        set.state_since = now;
      }
      if (message !== current.message) set.message = message;
      if (d.counts.total !== Number(current.total)) set.total = d.counts.total;
      if (d.counts.applied !== Number(current.applied)) set.applied = d.counts.applied;
      if (d.counts.ready !== Number(current.ready)) set.ready = d.counts.ready;
      if (notReady !== current.not_ready) set.not_ready = notReady;
      next.set(d.bundle, {
        ...facts,
        state: d.state,
        message,
        stateSince: changed ? now : facts.stateSince,
      });
    }
    // A report that repeats what the row says writes nothing: heartbeats cost one site update.
    if (Object.keys(set).length === 0) continue;
    await tx
      .updateTable('deployments')
      .set({ ...set, updated_at: now })
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
  // the nodes change rarely: a heartbeat repeating them leaves the column alone
  const stack = report.stack ? JSON.stringify(report.stack) : undefined;
  const stackChange = stack !== undefined && stack !== row.stack ? { stack, stack_at: now } : {};
  // the version the site registered with names its chart renderings: an upgraded cluster gets its
  // charts rendered again for the version it runs now
  const facts = JSON.parse(row.facts) as { kubernetesVersion?: string };
  const reportedVersion = report.stack?.kubernetesVersion;
  const kubernetesVersionChanged =
    reportedVersion !== undefined && reportedVersion !== facts.kubernetesVersion;
  const factsChange = kubernetesVersionChanged
    ? { facts: JSON.stringify({ ...facts, kubernetesVersion: reportedVersion }) }
    : {};
  await tx
    .updateTable('sites')
    .set({
      ...contact,
      ...stackChange,
      ...factsChange,
      last_report_seq: report.seq,
      last_report_at: now,
      ...derivedColumns(after),
    })
    .where('id', '=', site.id)
    .execute();
  const events = await recordChanges(ctx, tx, [{ siteId: site.id, before, after }], [], {
    derivedWritten: true,
  });
  return { ack: { accepted: true, lastSeq: report.seq }, events, kubernetesVersionChanged };
}

/**
 * Ingests reports in order in one transaction, then wakes the event streams: all commit or none (a failure
 * throws). Agents' reports reach it through ReportBatcher, which groups them.
 */
export async function ingestReports(
  ctx: HubContext,
  reports: readonly { site: Pick<Site, 'id'>; report: Report }[],
): Promise<ReportAck[]> {
  let events = 0;
  const upgraded: string[] = [];
  const acks = await ctx.store.db.transaction().execute(async (tx) => {
    const out: ReportAck[] = [];
    for (const { site, report } of reports) {
      const r = await ingestInTransaction(ctx, tx, site, report);
      out.push(r.ack);
      events += r.events;
      if (r.kubernetesVersionChanged) upgraded.push(site.id);
    }
    return out;
  });
  if (events > 0) ctx.events.notify();
  if (upgraded.length > 0) await placeSites(ctx, upgraded);
  return acks;
}

/** Ingests one report in a transaction of its own. */
export async function ingestReport(
  ctx: HubContext,
  site: Pick<Site, 'id'>,
  report: Report,
): Promise<ReportAck> {
  const [ack] = await ingestReports(ctx, [{ site, report }]);
  return ack!;
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
