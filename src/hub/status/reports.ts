// Reports flow up from agents: each is sequenced per site, so a replayed or duplicated report changes
// nothing. A report about a digest the hub no longer wants there only records what is applied.

import type { DeploymentState } from '../../model/deployment.ts';
import type { DeploymentView, Report } from '../../model/wire.ts';
import type { HubContext } from '../context.ts';
import { placeSites } from '../placement/place.ts';
import { judgeReported } from '../profiles/conformance-kept.ts';
import type { Site } from '../sites/sites.ts';
import { type Arg, preparedQuery } from '../store/prepared.ts';
import type { Db, DeploymentTable, SiteTable } from '../store/schema.ts';
import type { SiteFacts } from './aggregate.ts';
import {
  type DerivedColumns,
  deploymentFactColumns,
  deploymentFacts,
  derivedColumns,
  recordChanges,
  type SiteChange,
  siteFactColumns,
  siteFacts,
} from './site-status.ts';

const appliedStates = new Set(['Ready', 'NotReady', 'Drifted']);

export interface ReportAck {
  accepted: boolean;
  lastSeq: number;
}

// The report path's statements, compiled once: each has one shape whatever the report changes (columns
// that stay as they are get their current value back), so Kysely builds none of them per report.

/** What a report is judged against, read for one site or for a batch's sites. */
const siteReportColumns = [
  ...siteFactColumns,
  'last_report_seq',
  'stack',
  'facts',
  'dropped_reports',
  'dropped_reports_before',
] as const;
const deploymentReportColumns = [
  ...deploymentFactColumns,
  'applied_digest',
  'total',
  'applied',
  'ready',
  'not_ready',
  'render_error',
] as const;

const siteOfReport = preparedQuery((db, arg: Arg<{ id: string }>) =>
  db.selectFrom('sites').select(siteReportColumns).where('id', '=', arg('id')),
);

const deploymentsOfReport = preparedQuery((db, arg: Arg<{ siteId: string }>) =>
  db
    .selectFrom('deployments')
    .select(deploymentReportColumns)
    .where('site_id', '=', arg('siteId'))
    .orderBy('bundle'),
);

type SiteRow = Awaited<ReturnType<typeof siteOfReport>>['rows'][number];
type DeploymentRow = Awaited<ReturnType<typeof deploymentsOfReport>>['rows'][number];

/** What a report is judged against: the site's row and its deployments' rows, by bundle. */
interface StoredSite {
  row: SiteRow | undefined;
  rows: DeploymentRow[];
}

async function storedSite(tx: Db, siteId: string): Promise<StoredSite> {
  const {
    rows: [row],
  } = await siteOfReport(tx, { id: siteId });
  const { rows } = await deploymentsOfReport(tx, { siteId });
  return { row, rows };
}

/** Sites read per statement when a batch is loaded: within both engines' parameter limits. */
const sitesPerRead = 512;

type SiteIdArgs = Record<string, string>;

/**
 * The reads of `size` sites' rows, compiled once per size. A batch's ids are padded to the next power
 * of two by repeating its last one (which changes no result), so ten shapes serve every batch: built
 * anew per batch, Kysely's compilation of the two reads was about a tenth of a direct report's hub CPU.
 */
const batchReads = new Map<number, ReturnType<typeof compileBatchReads>>();

function compileBatchReads(size: number) {
  const ids = (arg: Arg<SiteIdArgs>) => Array.from({ length: size }, (_, i) => arg(`id${i}`));
  return {
    sites: preparedQuery((db, arg: Arg<SiteIdArgs>) =>
      db.selectFrom('sites').select(siteReportColumns).where('id', 'in', ids(arg)),
    ),
    deployments: preparedQuery((db, arg: Arg<SiteIdArgs>) =>
      db
        .selectFrom('deployments')
        .select(deploymentReportColumns)
        .where('site_id', 'in', ids(arg))
        .orderBy('site_id')
        .orderBy('bundle'),
    ),
  };
}

function batchReadsFor(count: number): { reads: ReturnType<typeof compileBatchReads>; size: number } {
  const size = 2 ** Math.ceil(Math.log2(count));
  let reads = batchReads.get(size);
  if (!reads) {
    reads = compileBatchReads(size);
    batchReads.set(size, reads);
  }
  return { reads, size };
}

/**
 * The stored rows of a batch's sites, two statements per 512 sites: read one by one, a batch of 256
 * reports was 512 round trips inside its transaction, and under load each waits its turn of the
 * replica's event loop while the transaction holds its rows.
 */
async function storedSites(tx: Db, siteIds: readonly string[]): Promise<Map<string, StoredSite>> {
  const ids = [...new Set(siteIds)];
  const out = new Map<string, StoredSite>();
  for (let i = 0; i < ids.length; i += sitesPerRead) {
    const chunk = ids.slice(i, i + sitesPerRead);
    const { reads, size } = batchReadsFor(chunk.length);
    const args: SiteIdArgs = {};
    for (let k = 0; k < size; k++) args[`id${k}`] = chunk[Math.min(k, chunk.length - 1)]!;
    const { rows: sites } = await reads.sites(tx, args);
    for (const row of sites) out.set(row.id, { row, rows: [] });
    const { rows: deployments } = await reads.deployments(tx, args);
    for (const d of deployments) out.get(d.site_id)?.rows.push(d);
  }
  return out;
}

type ContactArgs = Pick<SiteTable, 'id' | 'last_seen_at' | 'connectivity' | 'connectivity_since'>;

/** A replayed report only says the site was heard from; `connectivity_since` null keeps the stored one. */
const siteContact = preparedQuery((db, arg: Arg<ContactArgs>) =>
  db
    .updateTable('sites')
    .set((eb) => ({
      last_seen_at: arg('last_seen_at'),
      connectivity: arg('connectivity'),
      connectivity_since: eb.fn.coalesce(eb.val(arg('connectivity_since')), eb.ref('connectivity_since')),
    }))
    .where('id', '=', arg('id')),
);

type SiteReportArgs = ContactArgs &
  DerivedColumns &
  Pick<SiteTable, 'stack' | 'stack_at' | 'last_report_seq' | 'last_report_at'> & {
    facts: string | null;
    dropped_reports: number | null;
  };

/**
 * An accepted report; `stack`, `stack_at`, `facts` and `dropped_reports` null keep the stored ones (a
 * heartbeat repeats the nodes; the facts change only when the cluster's Kubernetes version does; the
 * agent's dropped count only when its outbox overflows).
 */
const siteReported = preparedQuery((db, arg: Arg<SiteReportArgs>) =>
  db
    .updateTable('sites')
    .set((eb) => ({
      last_seen_at: arg('last_seen_at'),
      connectivity: arg('connectivity'),
      connectivity_since: eb.fn.coalesce(eb.val(arg('connectivity_since')), eb.ref('connectivity_since')),
      stack: eb.fn.coalesce(eb.val(arg('stack')), eb.ref('stack')),
      stack_at: eb.fn.coalesce(eb.val(arg('stack_at')), eb.ref('stack_at')),
      facts: eb.fn.coalesce(eb.val(arg('facts')), eb.ref('facts')),
      dropped_reports: eb.fn.coalesce(eb.val(arg('dropped_reports')), eb.ref('dropped_reports')),
      last_report_seq: arg('last_report_seq'),
      last_report_at: arg('last_report_at'),
      worst_state: arg('worst_state'),
      attention_rank: arg('attention_rank'),
      attention_reason: arg('attention_reason'),
      attention_detail: arg('attention_detail'),
      attention_since: arg('attention_since'),
    }))
    .where('id', '=', arg('id')),
);

type DeploymentReportArgs = Pick<
  DeploymentTable,
  | 'site_id'
  | 'bundle'
  | 'applied_digest'
  | 'state'
  | 'state_since'
  | 'message'
  | 'total'
  | 'applied'
  | 'ready'
  | 'not_ready'
  | 'updated_at'
>;

const deploymentReported = preparedQuery((db, arg: Arg<DeploymentReportArgs>) =>
  db
    .updateTable('deployments')
    .set({
      applied_digest: arg('applied_digest'),
      state: arg('state'),
      state_since: arg('state_since'),
      message: arg('message'),
      total: arg('total'),
      applied: arg('applied'),
      ready: arg('ready'),
      not_ready: arg('not_ready'),
      updated_at: arg('updated_at'),
    })
    .where('site_id', '=', arg('site_id'))
    .where('bundle', '=', arg('bundle')),
);

const deploymentRemoved = preparedQuery((db, arg: Arg<{ siteId: string; bundle: string }>) =>
  db
    .deleteFrom('deployments')
    .where('site_id', '=', arg('siteId'))
    .where('bundle', '=', arg('bundle'))
    .where('desired_digest', 'is', null),
);

/**
 * Ingests one report inside the caller's transaction: reads the site and its deployments once, and
 * from those rows alone works out the new facts and derived columns. An accepted report's change goes
 * into `reported`, for the batch's one aggregate upsert and event insert; a replay that brings the site
 * back is recorded at once (its derived columns must land before a later report of the same batch's).
 * Returns the ack and how many events it stored itself.
 */
async function ingestInTransaction(
  ctx: HubContext,
  tx: Db,
  site: Pick<Site, 'id'>,
  report: Report,
  reported: SiteChange[],
  loaded: StoredSite | undefined,
): Promise<{ ack: ReportAck; events: number; kubernetesVersionChanged?: boolean; wrote?: boolean }> {
  const now = ctx.now().toISOString();
  const { row, rows } = loaded ?? (await storedSite(tx, site.id));
  if (!row) throw new Error(`report: site ${site.id} is not in the store`);
  const lastSeq = Number(row.last_report_seq);
  const before = siteFacts(
    row,
    rows.map((r) => deploymentFacts(r)),
  );
  const connectivity = before.connectivity === 'Expired' ? 'Expired' : 'Online';
  const reconnected = connectivity !== before.connectivity;
  const contact: ContactArgs = {
    id: site.id,
    last_seen_at: now,
    connectivity,
    connectivity_since: reconnected ? now : null,
  };
  let after: SiteFacts = {
    ...before,
    connectivity,
    connectivitySince: reconnected ? now : before.connectivitySince,
  };
  if (report.seq <= lastSeq) {
    await siteContact(tx, contact);
    const events = reconnected ? await recordChanges(ctx, tx, [{ siteId: site.id, before, after }]) : 0;
    return { ack: { accepted: false, lastSeq }, events };
  }
  const byBundle = new Map(rows.map((r) => [r.bundle, r]));
  const next = new Map(before.deployments.map((d) => [d.bundle, d]));
  // whether this report changed a deployment row or the stack: only then can profile conformance move
  let wrote = false;
  for (const d of report.deployments) {
    const current = byBundle.get(d.bundle);
    if (!current) continue;
    const facts = next.get(d.bundle)!;
    const stored: DeploymentReportArgs = {
      site_id: site.id,
      bundle: d.bundle,
      applied_digest: current.applied_digest,
      state: current.state,
      state_since: current.state_since,
      message: current.message,
      total: Number(current.total),
      applied: Number(current.applied),
      ready: Number(current.ready),
      not_ready: current.not_ready,
      updated_at: now,
    };
    const reported = { ...stored };
    if (appliedStates.has(d.state)) reported.applied_digest = d.digest;
    // a site the current revision cannot be rendered for stays Failed whatever it reports on the old one
    if (current.desired_digest === d.digest && !current.render_error) {
      const changed = facts.state !== d.state;
      const message = d.message ?? '';
      if (changed) {
        reported.state = d.state;
        reported.state_since = now;
      }
      reported.message = message;
      reported.total = d.counts.total;
      reported.applied = d.counts.applied;
      reported.ready = d.counts.ready;
      reported.not_ready = JSON.stringify(d.notReady ?? []);
      next.set(d.bundle, {
        ...facts,
        state: d.state,
        message,
        stateSince: changed ? now : facts.stateSince,
      });
    }
    // A report that repeats what the row says writes nothing: heartbeats cost one site update.
    if (sameDeploymentRow(stored, reported)) continue;
    await deploymentReported(tx, reported);
    wrote = true;
  }
  for (const bundle of report.removed ?? []) {
    const current = byBundle.get(bundle);
    if (!current || current.desired_digest !== null) continue;
    await deploymentRemoved(tx, { siteId: site.id, bundle });
    wrote = true;
    next.delete(bundle);
  }
  after = { ...after, deployments: [...next.values()] };
  // the nodes change rarely: a heartbeat repeating them leaves the column alone
  const stack = report.stack ? JSON.stringify(report.stack) : null;
  const stackChanged = stack !== null && stack !== row.stack;
  // the version the site registered with names its chart renderings: an upgraded cluster gets its
  // charts rendered again for the version it runs now
  // (the version is part of the stack, so a heartbeat repeating its stack parses no facts)
  const reportedVersion = stackChanged ? report.stack?.kubernetesVersion : undefined;
  const facts =
    reportedVersion === undefined ? {} : (JSON.parse(row.facts) as { kubernetesVersion?: string });
  const kubernetesVersionChanged =
    reportedVersion !== undefined && reportedVersion !== facts.kubernetesVersion;
  // the agent's running count, above what earlier installs counted; the highest seen stands (a report
  // sent again late carries an older, lower count)
  const dropped = Number(row.dropped_reports_before) + (report.droppedReports ?? 0);
  await siteReported(tx, {
    ...contact,
    dropped_reports: dropped > Number(row.dropped_reports) ? dropped : null,
    stack: stackChanged ? stack : null,
    stack_at: stackChanged ? now : null,
    facts: kubernetesVersionChanged ? JSON.stringify({ ...facts, kubernetesVersion: reportedVersion }) : null,
    last_report_seq: report.seq,
    last_report_at: now,
    ...derivedColumns(after),
  });
  reported.push({ siteId: site.id, before, after });
  return {
    ack: { accepted: true, lastSeq: report.seq },
    events: 0,
    kubernetesVersionChanged,
    wrote: wrote || stackChanged,
  };
}

/** Whether a report leaves a deployment row as it is (its `updated_at` aside). */
function sameDeploymentRow(a: DeploymentReportArgs, b: DeploymentReportArgs): boolean {
  return (
    a.applied_digest === b.applied_digest &&
    a.state === b.state &&
    a.state_since === b.state_since &&
    a.message === b.message &&
    a.total === b.total &&
    a.applied === b.applied &&
    a.ready === b.ready &&
    a.not_ready === b.not_ready
  );
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
  const changed: string[] = [];
  const acks = await ctx.store.db.transaction().execute(async (tx) => {
    const out: ReportAck[] = [];
    const reported: SiteChange[] = [];
    const loaded = await storedSites(
      tx,
      reports.map((r) => r.site.id),
    );
    for (const { site, report } of reports) {
      // a site's second report in one batch reads the rows its first one wrote
      const stored = loaded.get(site.id);
      loaded.delete(site.id);
      const r = await ingestInTransaction(ctx, tx, site, report, reported, stored);
      out.push(r.ack);
      events += r.events;
      if (r.kubernetesVersionChanged) upgraded.push(site.id);
      if (r.wrote) changed.push(site.id);
    }
    // one aggregate upsert for the batch: its reports mostly move the same fleet and bundle cells
    events += await recordChanges(ctx, tx, reported, [], { derivedWritten: true });
    return out;
  });
  if (events > 0) ctx.events.notify();
  if (upgraded.length > 0) await placeSites(ctx, upgraded);
  // a heartbeat that repeats its site's rows cannot move conformance: no query for it
  await judgeReported(ctx, changed);
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
