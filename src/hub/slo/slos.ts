// SLOs at the hub: declared per bundle (optionally narrowed by a label selector), stored with their
// per-SLO 5-minute totals, and read back as views: attainment and budget over the window, burn rates,
// the alert level, a budget series and the sites spending the most.

import { OutpostError } from '../../model/errors.ts';
import type { SiteSlis, SloDetail, SloSpec, SloView } from '../../model/slo-wire.ts';
import type { SloDocument } from '../../render/fleet-documents.ts';
import { type LabelSelector, matchesSelector, validateSelector } from '../../select/labels.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { siteByName } from '../sites/sites.ts';
import type { Db } from '../store/schema.ts';
import { addSloTotals, bucketFromRow, hourMs, type SloTotals, totalsOf } from '../telemetry/sli-store.ts';
import { bucketMs, bucketStart, sliSeries } from './core/buckets.ts';
import {
  alertLevel,
  attainment,
  type BurnVerdict,
  budgetRemaining,
  burnRate,
  type Counts,
  countsIn,
  evaluateBurn,
  type TotalsBucket,
  windowMs,
} from './core/budget.ts';
import { resolveAlertsOf } from './notifications.ts';

const worstSitesShown = 10;
const seriesPoints = 200;

export function parseStoredSlo(spec: string): SloSpec {
  return JSON.parse(spec) as SloSpec;
}

/** Checks what the schema cannot: the window's length and the selector's labels. */
function checkSlo(ctx: HubContext, spec: SloSpec): void {
  const w = windowMs(spec.window);
  if (w === undefined)
    throw new OutpostError('request_invalid', `window "${spec.window}": use e.g. 28d, 6h or 30m`);
  if (w > ctx.config.telemetry.sloRetentionMs) {
    const days = ctx.config.telemetry.sloRetentionMs / 86_400_000;
    throw new OutpostError(
      'request_invalid',
      `window ${spec.window} is longer than the ${days}d the hub keeps SLO data`,
    );
  }
  if (spec.selector) {
    const problem = validateSelector(spec.selector)[0];
    if (problem) throw new OutpostError('selector_invalid', `selector.${problem.path}: ${problem.message}`);
  }
}

/**
 * Creates or replaces an SLO by name, through the API. Its totals are rebuilt, since a new scope counts
 * different sites: from the per-site buckets the hub still has (siteRetentionMs) and, for a fleet-wide
 * SLO, from the bundle's hourly counts before that, so it starts with its whole window of history.
 * An SLO a source defines changes only through its fleet repository (409).
 */
export async function applySlo(ctx: HubContext, actor: Actor, spec: SloSpec): Promise<{ created: boolean }> {
  checkSlo(ctx, spec);
  return ctx.store.db.transaction().execute(async (tx) => {
    const existing = await tx
      .selectFrom('slos')
      .select(['spec', 'source'])
      .where('name', '=', spec.name)
      .executeTakeFirst();
    if (existing?.source) throw fromSource(spec.name, existing.source);
    await writeSlo(ctx, tx, spec, null, existing !== undefined);
    await audit(tx, ctx.now(), actor, existing ? 'slo.replace' : 'slo.create', spec.name, { spec });
    return { created: !existing };
  });
}

function fromSource(name: string, source: string): OutpostError {
  return new OutpostError(
    'conflict',
    `SLO ${name} comes from source ${source}; change it in its fleet repository`,
  );
}

/** Writes an SLO row and rebuilds its totals, in the caller's transaction. */
async function writeSlo(
  ctx: HubContext,
  tx: Db,
  spec: SloSpec,
  source: string | null,
  exists: boolean,
): Promise<void> {
  const now = ctx.now();
  const row = { bundle: spec.bundle, spec: JSON.stringify(spec), updated_at: now.toISOString(), source };
  if (exists) await tx.updateTable('slos').set(row).where('name', '=', spec.name).execute();
  else
    await tx
      .insertInto('slos')
      .values({ name: spec.name, created_at: now.toISOString(), ...row })
      .execute();
  await tx.deleteFrom('slo_buckets').where('slo', '=', spec.name).execute();
  await backfill(ctx, tx, spec, now.getTime());
}

/**
 * Problems with a source's SLOs before its commit is stored: a window the hub cannot keep, a bad
 * selector, or a name another source or the API owns already. Each names the document's file and line.
 */
export async function sloConflicts(ctx: HubContext, source: string, docs: readonly SloDocument[]) {
  const owners = new Map(
    (await ctx.store.db.selectFrom('slos').select(['name', 'source']).execute()).map((r) => [
      r.name,
      r.source,
    ]),
  );
  const errors: OutpostError[] = [];
  for (const d of docs) {
    const where = { file: d.file, line: d.line };
    try {
      checkSlo(ctx, d.spec);
    } catch (e) {
      // the document's selector was checked when it was read: what is left is about the window
      const err = e as OutpostError;
      errors.push(
        new OutpostError(err.code, `SLO ${d.name}: ${err.message}`, { file: d.file, line: d.windowLine }),
      );
    }
    if (owners.has(d.name) && owners.get(d.name) !== source) {
      const owner = owners.get(d.name) ? `source ${owners.get(d.name)}` : 'the API';
      errors.push(new OutpostError('conflict', `SLO ${d.name} already comes from ${owner}`, where));
    }
  }
  return errors;
}

/**
 * Stores a source's SLOs as its commit has them, in the sync's transaction: a changed spec is written
 * (and its totals rebuilt), one the commit no longer has is deleted. Returns what changed, as `SLO/NAME`.
 */
export async function syncSlos(
  ctx: HubContext,
  tx: Db,
  source: string,
  docs: readonly SloDocument[],
): Promise<{ changed: string[]; deleted: string[] }> {
  const rows = await tx.selectFrom('slos').select(['name', 'spec']).where('source', '=', source).execute();
  const changed: string[] = [];
  for (const d of docs) {
    const row = rows.find((r) => r.name === d.name);
    if (row && row.spec === JSON.stringify(d.spec)) continue;
    await writeSlo(ctx, tx, d.spec, source, row !== undefined);
    changed.push(`SLO/${d.name}`);
  }
  const deleted: string[] = [];
  for (const r of rows) {
    if (docs.some((d) => d.name === r.name)) continue;
    await removeSlo(ctx, tx, r.name, parseStoredSlo(r.spec));
    deleted.push(`SLO/${r.name}`);
  }
  return { changed, deleted };
}

async function backfill(ctx: HubContext, tx: Db, spec: SloSpec, nowMs: number): Promise<void> {
  // site buckets from the first whole hour they fully cover; hourly bundle counts before it
  const cut = Math.ceil((nowMs - ctx.config.telemetry.siteRetentionMs) / hourMs) * hourMs;
  const totals = new Map<number, SloTotals>();
  const add = (t: SloTotals) => {
    const sum = totals.get(t.start) ?? { start: t.start, requests: 0, errors: 0, slow: 0 };
    sum.requests += t.requests;
    sum.errors += t.errors;
    sum.slow += t.slow;
    totals.set(t.start, sum);
  };
  if (!spec.selector) {
    const hours = await tx
      .selectFrom('sli_bundle_hourly')
      .selectAll()
      .where('bundle', '=', spec.bundle)
      .where('hour_start', '<', cut)
      .execute();
    for (const h of hours) {
      add({
        start: Number(h.hour_start),
        requests: Number(h.requests),
        errors: Number(h.errors),
        slow: Number(h.slow),
      });
    }
  }
  const ids = [...(await scopeSiteIds(tx, spec, false))];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await tx
      .selectFrom('sli_site_buckets')
      .selectAll()
      .where('bundle', '=', spec.bundle)
      .where('bucket_start', '>=', cut)
      .where('site_id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const row of rows) add(totalsOf(bucketFromRow(row)));
  }
  await addSloTotals(tx, spec.name, [...totals.values()]);
}

/**
 * Ids of the sites in an SLO's scope: the selector matches their labels and, with `placedOnly`, the
 * bundle is placed on them. Without `placedOnly` any site that may have reported for the bundle counts.
 */
async function scopeSiteIds(db: Db, spec: SloSpec, placedOnly: boolean): Promise<Set<string>> {
  let q = db.selectFrom('sites').select(['sites.id', 'sites.labels']);
  if (placedOnly) {
    q = q
      .innerJoin('deployments', 'deployments.site_id', 'sites.id')
      .where('deployments.bundle', '=', spec.bundle)
      .where('deployments.desired_digest', 'is not', null);
  }
  const rows = await q.execute();
  const out = new Set<string>();
  for (const r of rows) {
    if (!spec.selector || matchesSelector(spec.selector as LabelSelector, JSON.parse(r.labels)))
      out.add(r.id);
  }
  return out;
}

export async function deleteSlo(ctx: HubContext, actor: Actor, name: string): Promise<void> {
  await ctx.store.db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom('slos')
      .select(['spec', 'source'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new OutpostError('not_found', `no SLO named ${name}`);
    if (row.source) throw fromSource(name, row.source);
    await removeSlo(ctx, tx, name, parseStoredSlo(row.spec));
    await audit(tx, ctx.now(), actor, 'slo.delete', name);
  });
}

async function removeSlo(ctx: HubContext, tx: Db, name: string, spec: SloSpec): Promise<void> {
  await resolveAlertsOf(ctx, tx, spec);
  await tx.deleteFrom('slos').where('name', '=', name).execute();
  await tx.deleteFrom('slo_buckets').where('slo', '=', name).execute();
  await tx.deleteFrom('slo_alerts').where('slo', '=', name).execute();
}

/** A stored SLO: its spec, and the source that defines it when one does. */
interface StoredSlo {
  spec: SloSpec;
  source: string | null;
}

async function storedSlo(ctx: HubContext, name: string): Promise<StoredSlo> {
  const row = await ctx.store.db
    .selectFrom('slos')
    .select(['spec', 'source'])
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no SLO named ${name}`);
  return { spec: parseStoredSlo(row.spec), source: row.source };
}

async function totalsSince(ctx: HubContext, name: string, from: number): Promise<TotalsBucket[]> {
  const rows = await ctx.store.db
    .selectFrom('slo_buckets')
    .select(['bucket_start', 'requests', 'errors', 'slow'])
    .where('slo', '=', name)
    .where('bucket_start', '>=', bucketStart(from))
    .orderBy('bucket_start')
    .execute();
  return rows.map((r) => ({
    start: Number(r.bucket_start),
    requests: Number(r.requests),
    errors: Number(r.errors),
    slow: Number(r.slow),
  }));
}

/** Counts over the `ms` ending at `end`: every bucket that overlaps it (windows round out to whole buckets). */
function countsOver(buckets: readonly TotalsBucket[], spec: SloSpec, end: number, ms: number): Counts {
  return countsIn(buckets, end - ms - bucketMs + 1, end + 1, spec.sli.kind);
}

/** The burn-rule verdicts of an SLO now, with the totals they were computed from (6 h at least). */
export async function sloState(
  ctx: HubContext,
  spec: SloSpec,
  opts: { withWindow: boolean },
): Promise<{ buckets: TotalsBucket[]; verdicts: BurnVerdict[]; now: number }> {
  const now = ctx.now().getTime();
  // alerts need only the burn windows; a view also needs the SLO's whole window
  const longest = Math.max(
    opts.withWindow ? windowMs(spec.window)! : 0,
    6 * hourMs,
    ...ctx.config.alerts.burnRules.map((r) => r.longMs),
  );
  const buckets = await totalsSince(ctx, spec.name, now - longest - bucketMs);
  const verdicts = evaluateBurn(
    ctx.config.alerts.burnRules,
    (ms) => countsOver(buckets, spec, now, ms),
    spec.objective,
  );
  return { buckets, verdicts, now };
}

async function view(
  ctx: HubContext,
  { spec, source }: StoredSlo,
): Promise<SloView & { buckets: TotalsBucket[]; now: number }> {
  const { buckets, verdicts, now } = await sloState(ctx, spec, { withWindow: true });
  const window = countsOver(buckets, spec, now, windowMs(spec.window)!);
  return {
    ...spec,
    ...(source ? { source } : {}),
    budgetRemaining: budgetRemaining(window, spec.objective),
    attainment: attainment(window),
    burn: {
      fast: burnRate(countsOver(buckets, spec, now, hourMs), spec.objective),
      slow: burnRate(countsOver(buckets, spec, now, 6 * hourMs), spec.objective),
    },
    alert: alertLevel(verdicts.map((v) => ({ kind: v.rule.kind, firing: v.firing }))),
    sites: (await scopeSiteIds(ctx.store.db, spec, true)).size,
    buckets,
    now,
  };
}

export async function listSlos(ctx: HubContext): Promise<SloView[]> {
  const rows = await ctx.store.db.selectFrom('slos').select(['spec', 'source']).orderBy('name').execute();
  const out: SloView[] = [];
  for (const r of rows) {
    const {
      buckets: _b,
      now: _n,
      ...v
    } = await view(ctx, { spec: parseStoredSlo(r.spec), source: r.source });
    out.push(v);
  }
  return out;
}

/**
 * One SLO with its budget series (the budget over the window ending at each point, as far back as the
 * hub has data; the burn rate over the hour before it) and the sites spending the most (over the part of
 * the window the per-site buckets still cover).
 */
export async function sloDetail(ctx: HubContext, name: string): Promise<SloDetail> {
  const stored = await storedSlo(ctx, name);
  const spec = stored.spec;
  const { buckets: _recent, now, ...v } = await view(ctx, stored);
  const w = windowMs(spec.window)!;
  const buckets = await totalsSince(ctx, spec.name, now - 2 * w - bucketMs);
  const step = Math.max(bucketMs, Math.ceil(w / seriesPoints / bucketMs) * bucketMs);
  const series: SloDetail['series'] = [];
  const first = bucketStart(now - w) + bucketMs;
  for (let t = first; t <= now; t += step) {
    series.push({
      t: new Date(t).toISOString(),
      budgetRemaining: budgetRemaining(countsOver(buckets, spec, t, w), spec.objective),
      burnRate: burnRate(countsOver(buckets, spec, t, hourMs), spec.objective),
    });
  }
  return { ...v, series, worstSites: await worstSites(ctx, spec, now) };
}

async function worstSites(ctx: HubContext, spec: SloSpec, now: number): Promise<SloDetail['worstSites']> {
  const scope = await scopeSiteIds(ctx.store.db, spec, false);
  const since = now - Math.min(windowMs(spec.window)!, ctx.config.telemetry.siteRetentionMs);
  const rows = await ctx.store.db
    .selectFrom('sli_site_buckets')
    .innerJoin('sites', 'sites.id', 'sli_site_buckets.site_id')
    .select((eb) => [
      'sites.id',
      'sites.name',
      eb.fn.sum<number>('sli_site_buckets.requests').as('requests'),
      eb.fn
        .sum<number>(spec.sli.kind === 'errors' ? 'sli_site_buckets.errors' : 'sli_site_buckets.slow')
        .as('bad'),
    ])
    .where('sli_site_buckets.bundle', '=', spec.bundle)
    .where('sli_site_buckets.bucket_start', '>=', bucketStart(since))
    .groupBy(['sites.id', 'sites.name'])
    .execute();
  return rows
    .filter((r) => scope.has(r.id))
    .map((r) => {
      const c = { requests: Number(r.requests ?? 0), bad: Number(r.bad ?? 0) };
      return {
        site: r.name,
        budgetRemaining: budgetRemaining(c, spec.objective),
        errorRate: c.requests > 0 ? c.bad / c.requests : null,
      };
    })
    .sort((a, b) => a.budgetRemaining - b.budgetRemaining || a.site.localeCompare(b.site))
    .slice(0, worstSitesShown);
}

export async function sloView(ctx: HubContext, name: string): Promise<SloView> {
  const { buckets: _b, now: _n, ...v } = await view(ctx, await storedSlo(ctx, name));
  return v;
}

/** A site's SLI series since `since` (clamped to what the hub keeps). */
export async function siteSlis(ctx: HubContext, name: string, since: Date | undefined): Promise<SiteSlis> {
  const site = await siteByName(ctx, name);
  const now = ctx.now().getTime();
  const oldest = now - ctx.config.telemetry.siteRetentionMs;
  const from = Math.max(oldest, since?.getTime() ?? now - 24 * hourMs);
  const rows = await ctx.store.db
    .selectFrom('sli_site_buckets')
    .selectAll()
    .where('site_id', '=', site.id)
    .where('bucket_start', '>=', bucketStart(from))
    .orderBy('bucket_start')
    .execute();
  return { series: sliSeries(rows.map(bucketFromRow)) };
}
