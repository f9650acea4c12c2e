// Reports flow up from agents: each is sequenced per site, so a replayed or duplicated report changes
// nothing. A report about a digest the hub no longer wants there only records what is applied.

import { sql } from 'kysely';
import type { DeploymentState } from '../../model/deployment.ts';
import type { DeploymentView, Report } from '../../model/wire.ts';
import type { HubContext } from '../context.ts';
import { placeSites } from '../placement/place.ts';
import { judgeReported } from '../profiles/conformance-kept.ts';
import type { Site } from '../sites/sites.ts';
import { engineOf, sourceKey } from '../store/dialect.ts';
import {
  type Arg,
  type PositionalArgs,
  paddedArgs,
  paddedSize,
  preparedPerSize,
  preparedQuery,
} from '../store/prepared.ts';
import type { Db, DeploymentTable } from '../store/schema.ts';
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

type SiteIdArgs = PositionalArgs<string>;

function idList(arg: Arg<SiteIdArgs>, size: number): string[] {
  return Array.from({ length: size }, (_, i) => arg(`${i}`));
}

/**
 * The reads of a batch's sites' rows, compiled once per size: the ids are padded to the next power of
 * two by repeating the last one (which changes no result), so ten shapes serve every batch. Built anew
 * per batch, Kysely's compilation of the two reads was about a tenth of a direct report's hub CPU.
 * On PostgreSQL the sites' rows are taken FOR UPDATE in id order before the batch writes anything, as a
 * placement chunk takes its sites' rows: every writer of sites and their deployments takes the site rows
 * first and in one order, so a report batch and a placement chunk queue instead of deadlocking (a batch
 * that wrote deployment rows first, then wanted a site row a chunk held while the chunk wanted one of
 * those deployment rows, waited out PostgreSQL's deadlock timeout and one of the two was aborted).
 * SQLite has one writer at a time and no FOR UPDATE: its read is plain.
 */
const sitesOfBatch = preparedPerSize((db, arg: Arg<SiteIdArgs>, size) => {
  const read = db.selectFrom('sites').select(siteReportColumns).where('id', 'in', idList(arg, size));
  return engineOf(db as never) === 'postgres' ? read.orderBy('id').forUpdate() : read;
});

const deploymentsOfBatch = preparedPerSize((db, arg: Arg<SiteIdArgs>, size) =>
  db
    .selectFrom('deployments')
    .select(deploymentReportColumns)
    .where('site_id', 'in', idList(arg, size))
    .orderBy('site_id')
    .orderBy('bundle'),
);

type SiteRow = Awaited<ReturnType<ReturnType<typeof sitesOfBatch>>>['rows'][number];
type DeploymentRow = Awaited<ReturnType<ReturnType<typeof deploymentsOfBatch>>>['rows'][number];

/**
 * What a report is judged against: the site's row and its deployments' rows. Read once per batch and
 * then kept up to date in memory by each of the batch's reports, so a site's second report in a batch
 * sees what its first one changed before anything is written.
 */
export interface StoredSite {
  row: SiteRow;
  rows: DeploymentRow[];
}

/** Sites read per statement when a batch is loaded: within both engines' parameter limits. */
const sitesPerRead = 512;

/**
 * The stored rows of a batch's sites, two statements per 512 sites: read one by one, a batch of 256
 * reports was 512 round trips inside its transaction, and under load each waits its turn of the
 * replica's event loop while the transaction holds its rows. On PostgreSQL the site rows are locked
 * here (sitesOfBatch), in id order, before any of the batch's writes.
 */
export async function storedSites(tx: Db, siteIds: readonly string[]): Promise<Map<string, StoredSite>> {
  // in id order across reads too: a batch of more than 512 sites takes its rows in several statements
  const ids = [...new Set(siteIds)].sort();
  const out = new Map<string, StoredSite>();
  for (let i = 0; i < ids.length; i += sitesPerRead) {
    const chunk = ids.slice(i, i + sitesPerRead);
    const size = paddedSize(chunk.length);
    const args = paddedArgs(chunk, size);
    const { rows: sites } = await sitesOfBatch(size)(tx, args);
    for (const row of sites) out.set(row.id, { row, rows: [] });
    const { rows: deployments } = await deploymentsOfBatch(size)(tx, args);
    for (const d of deployments) out.get(d.site_id)?.rows.push(d);
  }
  return out;
}

/**
 * What a batch writes to one site's row: its reports' writes merged in order. The columns typed `| null`
 * keep what the row holds when null: a replay only says the site was heard from; a heartbeat repeats
 * its nodes (stack), the facts change only when the cluster's Kubernetes version does, the agent's
 * dropped count only when its outbox overflows, and the derived columns only with the facts.
 */
export interface SiteWrite {
  id: string;
  last_seen_at: string;
  connectivity: string;
  connectivity_since: string | null;
  stack: string | null;
  stack_at: string | null;
  facts: string | null;
  dropped_reports: number | null;
  last_report_seq: number | null;
  last_report_at: string | null;
  derived: DerivedColumns | null;
}

/** A later write of the same batch over an earlier one: what the later one keeps, the earlier one set. */
function mergeSiteWrite(earlier: SiteWrite | undefined, later: SiteWrite): SiteWrite {
  if (!earlier) return later;
  return {
    id: later.id,
    last_seen_at: later.last_seen_at,
    connectivity: later.connectivity,
    connectivity_since: later.connectivity_since ?? earlier.connectivity_since,
    stack: later.stack ?? earlier.stack,
    stack_at: later.stack_at ?? earlier.stack_at,
    facts: later.facts ?? earlier.facts,
    dropped_reports: later.dropped_reports ?? earlier.dropped_reports,
    last_report_seq: later.last_report_seq ?? earlier.last_report_seq,
    last_report_at: later.last_report_at ?? earlier.last_report_at,
    derived: later.derived ?? earlier.derived,
  };
}

/** A site write's columns in the statement's source rows, with the SQL type PostgreSQL is told. */
const siteWriteColumns = [
  ['id', 'text'],
  ['last_seen_at', 'text'],
  ['connectivity', 'text'],
  ['connectivity_since', 'text'],
  ['stack', 'text'],
  ['stack_at', 'text'],
  ['facts', 'text'],
  ['dropped_reports', 'bigint'],
  ['last_report_seq', 'integer'],
  ['last_report_at', 'text'],
  ['worst_state', 'text'],
  ['attention_rank', 'integer'],
  ['attention_reason', 'text'],
  ['attention_detail', 'text'],
  ['attention_since', 'text'],
] as const;

/** A site write's values in siteWriteColumns' order. */
function siteWriteValues(w: SiteWrite): Array<string | number | null> {
  const d = w.derived;
  return [
    w.id,
    w.last_seen_at,
    w.connectivity,
    w.connectivity_since,
    w.stack,
    w.stack_at,
    w.facts,
    w.dropped_reports,
    w.last_report_seq,
    w.last_report_at,
    d ? d.worst_state : null,
    d ? d.attention_rank : null,
    d ? d.attention_reason : null,
    d ? d.attention_detail : null,
    d ? d.attention_since : null,
  ];
}

/**
 * The statement's arguments by position (row × column), so its thousands of values go in an array
 * rather than under as many names.
 */
type SiteWriteArgs = PositionalArgs<string | number | null>;

/**
 * Every site a batch heard from, updated in one statement from typed VALUES rows, compiled once per
 * power-of-two size (padded with a copy of the last row, which writes the same values again). Each
 * column typed `| null` in SiteWrite keeps the stored value when null; the derived columns are kept
 * together when `attention_rank` is null (the others may be null when written). Joined to each site
 * by key (sourceKey): left to itself, SQLite's planner scanned every site (12 ms at 10,000 sites, not 3).
 */
const sitesReported = preparedPerSize((db, arg: Arg<SiteWriteArgs>, size) => {
  const width = siteWriteColumns.length;
  const rows = Array.from(
    { length: size },
    (_, i) =>
      sql`(${sql.join(siteWriteColumns.map(([, type], j) => sql`cast(${arg(`${i * width + j}`)} as ${sql.raw(type)})`))})`,
  );
  const keep = (column: string) => sql.raw(`${column} = coalesce(r.${column}, sites.${column})`);
  const derived = (column: string) =>
    sql.raw(`${column} = case when r.attention_rank is null then sites.${column} else r.${column} end`);
  const query = sql`with r (${sql.raw(siteWriteColumns.map(([name]) => name).join(', '))}) as (values ${sql.join(rows)})
    update sites set last_seen_at = r.last_seen_at, connectivity = r.connectivity,
      ${sql.join(
        [
          ...[
            'connectivity_since',
            'stack',
            'stack_at',
            'facts',
            'dropped_reports',
            'last_report_seq',
            'last_report_at',
          ].map(keep),
          ...['worst_state', 'attention_rank', 'attention_reason', 'attention_detail', 'attention_since'].map(
            derived,
          ),
        ],
        sql`, `,
      )}
    from r where sites.id = ${sourceKey(db as never, 'r')}`;
  return { compile: () => query.compile(db) };
});

/** Sites per statement when a batch's site rows are written: 15 parameters each. */
const sitesPerWrite = 256;

/** Writes a batch's site rows in the order given (judgeBatch's: by site id). */
async function writeSites(tx: Db, writes: readonly SiteWrite[]): Promise<void> {
  for (let i = 0; i < writes.length; i += sitesPerWrite) {
    const chunk = writes.slice(i, i + sitesPerWrite);
    const size = paddedSize(chunk.length);
    const args: Array<string | number | null> = [];
    for (let k = 0; k < size; k++) args.push(...siteWriteValues(chunk[Math.min(k, chunk.length - 1)]!));
    // an array answers each position's name ('0', '1', …) as an object would
    await sitesReported(size)(tx, args as unknown as SiteWriteArgs);
  }
}

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

/** A deployment row a batch changes: its new values, or `removed`. The last one of a row stands. */
export type DeploymentWrite =
  | { update: DeploymentReportArgs }
  | { removed: { siteId: string; bundle: string } };

/** What a batch's reports change, gathered in memory and written after the last report is judged. */
interface BatchWrites {
  sites: Map<string, SiteWrite>;
  /** by `${site_id}\0${bundle}` */
  deployments: Map<string, DeploymentWrite>;
  changes: SiteChange[];
}

/**
 * Judges one report against its site's rows as the batch has left them (`stored`, updated in place for
 * the site's next report) and adds what it changes to `writes`. Returns the ack, whether the site's
 * Kubernetes version changed and whether a deployment row or the stack changed (only then can profile
 * conformance move).
 */
function judgeReport(
  now: string,
  stored: StoredSite,
  report: Report,
  writes: BatchWrites,
): { ack: ReportAck; kubernetesVersionChanged?: boolean; wrote?: boolean } {
  const { row, rows } = stored;
  const lastSeq = Number(row.last_report_seq);
  const before = siteFacts(
    row,
    rows.map((r) => deploymentFacts(r)),
  );
  const connectivity = before.connectivity === 'Expired' ? 'Expired' : 'Online';
  const reconnected = connectivity !== before.connectivity;
  let after: SiteFacts = {
    ...before,
    connectivity,
    connectivitySince: reconnected ? now : before.connectivitySince,
  };
  row.connectivity = connectivity;
  if (reconnected) row.connectivity_since = now;
  const contact = {
    id: row.id,
    last_seen_at: now,
    connectivity,
    connectivity_since: reconnected ? now : null,
    stack: null,
    stack_at: null,
    facts: null,
    dropped_reports: null,
    last_report_seq: null,
    last_report_at: null,
    derived: null,
  };
  if (report.seq <= lastSeq) {
    // a replay only says the site was heard from, unless that brings it back
    const derived = reconnected ? derivedColumns(after) : null;
    writes.sites.set(row.id, mergeSiteWrite(writes.sites.get(row.id), { ...contact, derived }));
    if (reconnected) writes.changes.push({ siteId: row.id, before, after });
    return { ack: { accepted: false, lastSeq } };
  }
  const byBundle = new Map(rows.map((r) => [r.bundle, r]));
  const next = new Map(before.deployments.map((d) => [d.bundle, d]));
  let wrote = false;
  for (const d of report.deployments) {
    const current = byBundle.get(d.bundle);
    if (!current) continue;
    const facts = next.get(d.bundle)!;
    const kept: DeploymentReportArgs = {
      site_id: row.id,
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
    const reported = { ...kept };
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
    if (sameDeploymentRow(kept, reported)) continue;
    writes.deployments.set(`${row.id}\0${d.bundle}`, { update: reported });
    Object.assign(current, reported);
    wrote = true;
  }
  for (const bundle of report.removed ?? []) {
    const current = byBundle.get(bundle);
    if (!current || current.desired_digest !== null) continue;
    writes.deployments.set(`${row.id}\0${bundle}`, { removed: { siteId: row.id, bundle } });
    rows.splice(rows.indexOf(current), 1);
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
  const write: SiteWrite = {
    ...contact,
    dropped_reports: dropped > Number(row.dropped_reports) ? dropped : null,
    stack: stackChanged ? stack : null,
    stack_at: stackChanged ? now : null,
    facts: kubernetesVersionChanged ? JSON.stringify({ ...facts, kubernetesVersion: reportedVersion }) : null,
    last_report_seq: report.seq,
    last_report_at: now,
    derived: derivedColumns(after),
  };
  writes.sites.set(row.id, mergeSiteWrite(writes.sites.get(row.id), write));
  // what the site's next report in this batch is judged against
  row.last_report_seq = report.seq;
  if (write.stack !== null) row.stack = write.stack;
  if (write.facts !== null) row.facts = write.facts;
  if (write.dropped_reports !== null) row.dropped_reports = write.dropped_reports;
  writes.changes.push({ siteId: row.id, before, after });
  return {
    ack: { accepted: true, lastSeq: report.seq },
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

/** A batch's reports judged: their acks and what to write, in the order to write it. */
export interface JudgedBatch {
  acks: ReportAck[];
  /** deployment rows by (site, bundle), as placement writes them */
  deployments: DeploymentWrite[];
  /** one write per site, by id */
  sites: SiteWrite[];
  changes: SiteChange[];
  /** sites whose cluster's Kubernetes version changed */
  upgraded: string[];
  /** sites whose deployment rows or stack changed: only their profile conformance can move */
  changed: string[];
}

function byKey<T>(entries: Iterable<[string, T]>): T[] {
  return [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/**
 * Judges a batch's reports in order against its sites' stored rows (updated in place as each report
 * changes them), without I/O. Its writes come out in site-id order (deployment rows, then site rows):
 * on PostgreSQL concurrent writers that lock the same rows in one order queue and never deadlock.
 */
export function judgeBatch(
  now: string,
  loaded: Map<string, StoredSite>,
  reports: readonly { site: Pick<Site, 'id'>; report: Report }[],
): JudgedBatch {
  const writes: BatchWrites = { sites: new Map(), deployments: new Map(), changes: [] };
  const acks: ReportAck[] = [];
  const upgraded: string[] = [];
  const changed = new Set<string>();
  for (const { site, report } of reports) {
    const stored = loaded.get(site.id);
    if (!stored) throw new Error(`report: site ${site.id} is not in the store`);
    const r = judgeReport(now, stored, report, writes);
    acks.push(r.ack);
    if (r.kubernetesVersionChanged) upgraded.push(site.id);
    if (r.wrote) changed.add(site.id);
  }
  return {
    acks,
    deployments: byKey(writes.deployments),
    sites: byKey(writes.sites),
    changes: writes.changes,
    upgraded,
    changed: [...changed],
  };
}

/** Writes what a batch changed, in the order judgeBatch gave. */
async function writeBatch(tx: Db, judged: JudgedBatch): Promise<void> {
  for (const w of judged.deployments) {
    if ('update' in w) await deploymentReported(tx, w.update);
    else await deploymentRemoved(tx, w.removed);
  }
  await writeSites(tx, judged.sites);
}

/**
 * Ingests reports in order in one transaction, then wakes the event streams: all commit or none (a
 * failure throws). The batch's rows are read once, each report is judged in memory against them as the
 * earlier reports left them, and then the batch writes its deployment rows, one statement for its site
 * rows, one aggregate upsert and one event insert. Agents' reports reach it through ReportBatcher.
 */
export async function ingestReports(
  ctx: HubContext,
  reports: readonly { site: Pick<Site, 'id'>; report: Report }[],
): Promise<ReportAck[]> {
  let events = 0;
  const judged = await ctx.store.db.transaction().execute(async (tx) => {
    const loaded = await storedSites(
      tx,
      reports.map((r) => r.site.id),
    );
    const batch = judgeBatch(ctx.now().toISOString(), loaded, reports);
    await writeBatch(tx, batch);
    // one aggregate upsert and one event insert for the batch: its reports mostly move the same cells
    events = await recordChanges(ctx, tx, batch.changes, [], { derivedWritten: true });
    return batch;
  });
  if (events > 0) ctx.events.notify();
  if (judged.upgraded.length > 0) await placeSites(ctx, judged.upgraded);
  // a heartbeat that repeats its site's rows cannot move conformance: no query for it
  await judgeReported(ctx, judged.changed);
  return judged.acks;
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
