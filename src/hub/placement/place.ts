// Runs placement against the store in chunks of sites, each its own short transaction: it reads the
// chunk's sites, their deployments, the bundles, the rollouts' pins and the chart renderings the chunk's
// sites need afresh, plans (pure), writes the deployments, each site's desired-state digest, the status
// changes that follow and the chart renderings still to be made, commits, and wakes the chunk's agents.
// A fleet-wide run never holds the rows reports need for longer than one chunk. On PostgreSQL a chunk
// first locks its sites' rows in id order, skipping those a report holds (placed in a later pass), so it
// never waits on a report's rows while holding others (the two used to deadlock, each costing a second),
// and its size follows how long the last one held its rows (chunking.ts).

import { type Insertable, type RawBuilder, sql } from 'kysely';
import type { StackTarget } from '../../model/site-stack.ts';
import type { DesiredDeployment, DesiredState } from '../../model/wire.ts';
import type { ParsedBundle } from '../../render/bundle-files.ts';
import type { ChartRendering } from '../../render/chart-bundle.ts';
import { kubeVersionForHelm } from '../../render/generator-spec.ts';
import { type StoredFleet, storedFleet } from '../bundles/revisions.ts';
import type { HubContext } from '../context.ts';
import { loadTargets, targetProfiles } from '../profiles/targets.ts';
import type { DeploymentFacts, SiteFacts } from '../status/aggregate.ts';
import {
  type DerivedColumns,
  deploymentFactColumns,
  deploymentFacts,
  derivedColumns,
  recordChanges,
  type SiteChange,
  siteFactColumns,
  siteFacts,
} from '../status/site-status.ts';
import { sourceKey } from '../store/dialect.ts';
import type { Db, DeploymentTable, SiteTable } from '../store/schema.ts';
import { type ChunkSizing, firstChunkSize, nextChunkSize } from './chunking.ts';
import { desiredStateOf } from './desired.ts';
import {
  type CompiledBundle,
  type ExistingDeployment,
  type PlacementBundle,
  type PlacementPlan,
  type PlacementSite,
  pinKey,
  planPlacement,
  renderingWaitMessage,
} from './plan.ts';
import { loadRenderings, wantRenderings } from './renderings.ts';

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const revisionColumns = [
  'bundle_revisions.bundle',
  'bundle_revisions.revision',
  'bundle_revisions.namespace',
  'bundle_revisions.selector',
  'bundle_revisions.objects',
  'bundle_revisions.fleet',
  'bundle_revisions.options',
] as const;

function toPlacementBundle(r: {
  bundle: string;
  revision: number;
  namespace: string | null;
  selector: string;
  objects: string;
  fleet: string;
  options: string;
}): PlacementBundle {
  return {
    name: r.bundle,
    revision: Number(r.revision),
    namespace: r.namespace ?? undefined,
    selector: JSON.parse(r.selector),
    // a revision stored before spec.apply existed has '{}': the defaults, filled in by the agent
    options: r.options === '{}' ? undefined : JSON.parse(r.options),
    objects: JSON.parse(r.objects),
    ...fleetOf(r.fleet),
  };
}

/**
 * The revision of the named bundles (all bundles when no names) that placement delivers, ready to place:
 * the latest, except while a rollout of the latest waits (Queued) behind a running one — then the running
 * rollout's revision, so a site that joins meanwhile does not get a revision no canary has seen.
 */
export async function loadBundles(db: Db, names?: readonly string[]): Promise<PlacementBundle[]> {
  let q = db
    .selectFrom('bundles')
    .innerJoin('bundle_revisions', (j) =>
      j
        .onRef('bundle_revisions.bundle', '=', 'bundles.name')
        .onRef('bundle_revisions.revision', '=', 'bundles.revision'),
    )
    .select(revisionColumns);
  if (names) {
    if (names.length === 0) return [];
    q = q.where('bundles.name', 'in', names);
  }
  const latest = (await q.execute()).map(toPlacementBundle);
  let queuedQ = db
    .selectFrom('rollouts as queued')
    .innerJoin('rollouts as running', (j) =>
      j.onRef('running.bundle', '=', 'queued.bundle').on('running.phase', 'not in', ['Superseded', 'Queued']),
    )
    .select(['queued.bundle', 'running.from_revision', 'running.to_revision', 'running.phase'])
    .where('queued.phase', '=', 'Queued');
  if (names) queuedQ = queuedQ.where('queued.bundle', 'in', names);
  const held = await queuedQ.execute();
  if (held.length === 0) return latest;
  const delivered = new Map<string, PlacementBundle>();
  for (const h of held) {
    // a failed rollout has sent its sites back: the revision before it is the one delivered
    const revision = h.phase === 'Failed' ? h.from_revision : h.to_revision;
    const row = await revisionRow(db, h.bundle, Number(revision));
    if (row) delivered.set(h.bundle, row);
  }
  return latest.map((b) => delivered.get(b.name) ?? b);
}

async function revisionRow(db: Db, bundle: string, revision: number): Promise<PlacementBundle | undefined> {
  const row = await db
    .selectFrom('bundle_revisions')
    .select(revisionColumns)
    .where('bundle', '=', bundle)
    .where('revision', '=', revision)
    .executeTakeFirst();
  return row ? toPlacementBundle(row) : undefined;
}

/**
 * What the bundles' current rollouts hold back: every site a rollout has not started (or has rolled
 * back) stays on the revision it ran when the rollout was planned (the rollout's from revision for rows
 * that predate per-site ones). Keyed by pinKey; only for the given sites when given.
 */
async function loadPins(
  db: Db,
  bundles: readonly PlacementBundle[],
  siteIds?: readonly string[],
): Promise<Map<string, PlacementBundle>> {
  const pins = new Map<string, PlacementBundle>();
  if (bundles.length === 0 || siteIds?.length === 0) return pins;
  const placing = new Map(bundles.map((b) => [b.name, b.revision]));
  const rollouts = await db
    .selectFrom('rollouts')
    .select(['id', 'bundle', 'from_revision', 'to_revision'])
    .where('phase', 'not in', ['Superseded', 'Queued'])
    .where('bundle', 'in', [...placing.keys()])
    .execute();
  const revisions = new Map<string, PlacementBundle | undefined>();
  for (const r of rollouts) {
    if (placing.get(r.bundle) !== Number(r.to_revision)) continue;
    let q = db
      .selectFrom('rollout_sites')
      .select(['site_id', 'from_revision'])
      .where('rollout_id', '=', r.id)
      .where((eb) => eb.or([eb('started_at', 'is', null), eb('status', '=', 'RolledBack')]));
    if (siteIds) q = q.where('site_id', 'in', siteIds);
    for (const row of await q.execute()) {
      const from = Number(row.from_revision ?? r.from_revision);
      const key = `${r.bundle}@${from}`;
      if (!revisions.has(key)) revisions.set(key, await revisionRow(db, r.bundle, from));
      const old = revisions.get(key);
      if (old) pins.set(pinKey(row.site_id, r.bundle), old);
    }
  }
  return pins;
}

/** A parsed definition as placement would see it stored as `revision` (for checks and plans before it is). */
export function placementBundleOf(parsed: ParsedBundle, revision: number): PlacementBundle {
  const def = parsed.definition;
  return {
    name: def.name,
    revision,
    namespace: def.namespace,
    selector: def.selector,
    objects: parsed.objects.map((o) => o.object),
    ...fleetOf(JSON.stringify(storedFleet(parsed))),
  };
}

/** The placement, customization and dependencies a revision stored beside its objects. */
export function fleetOf(
  json: string,
): Pick<PlacementBundle, 'placement' | 'customization' | 'origins' | 'dependsOn' | 'telemetry' | 'helm'> {
  const f = JSON.parse(json) as StoredFleet;
  return {
    ...(f.helm ? { helm: f.helm } : {}),
    ...(f.placement ? { placement: f.placement } : {}),
    ...(f.customization ? { customization: f.customization } : {}),
    ...(f.origins ? { origins: f.origins } : {}),
    ...(f.dependsOn ? { dependsOn: f.dependsOn } : {}),
    ...(f.telemetry ? { telemetry: f.telemetry } : {}),
  };
}

export const siteColumns = ['id', 'name', 'labels', 'properties', 'lifecycle', 'facts'] as const;

export function toPlacementSite(r: {
  id: string;
  name: string;
  labels: string;
  properties: string;
  lifecycle: string;
  facts: string;
}): PlacementSite {
  return {
    id: r.id,
    name: r.name,
    labels: JSON.parse(r.labels),
    properties: JSON.parse(r.properties),
    active: r.lifecycle === 'Active',
    ...placementFacts(JSON.parse(r.facts)),
  };
}

/** What placement reads of the facts a site reported: its Kubernetes version, which charts render for. */
export function placementFacts(facts: { kubernetesVersion?: unknown }): Pick<PlacementSite, 'kubeVersion'> {
  const kubeVersion = kubeVersionForHelm(facts.kubernetesVersion);
  return kubeVersion ? { kubeVersion } : {};
}

function toExisting(r: {
  site_id: string;
  bundle: string;
  desired_digest: string | null;
  render_error: string | null;
  message: string;
}): ExistingDeployment {
  return {
    siteId: r.site_id,
    bundle: r.bundle,
    desiredDigest: r.desired_digest,
    renderError: r.render_error,
    ...(r.desired_digest === null && r.render_error === null && r.message === renderingWaitMessage
      ? { waiting: true }
      : {}),
  };
}

/**
 * The chart renderings these sites need from the chart bundles among `bundles` (and the revisions
 * rollouts pin), added to `known` and returned in it: a first, chart-only pass names the input digests
 * `known` lacks, which are then loaded (those Helm has not made yet stay out). A run placing chunk after
 * chunk keeps one `known` and one `compiled` for all of them (see planPlacement), so it loads each
 * rendering once and renders each input once.
 */
export async function renderingsFor(
  db: Db,
  sites: readonly PlacementSite[],
  bundles: readonly PlacementBundle[],
  pins: ReadonlyMap<string, PlacementBundle>,
  known: Map<string, ChartRendering> = new Map(),
  compiled: CompiledRevisions = new Map(),
): Promise<Map<string, ChartRendering>> {
  const charted = new Set([...bundles, ...pins.values()].filter((b) => b.helm).map((b) => b.name));
  if (charted.size === 0) return known;
  const probe = planPlacement(
    sites,
    bundles.filter((b) => charted.has(b.name)),
    [],
    pins,
    known,
    compiled,
  );
  for (const [digest, rendering] of await loadRenderings(db, [...probe.wanted.keys()])) {
    known.set(digest, rendering);
  }
  return known;
}

/** A run's revisions compiled once for all its chunks (revisions are immutable: keyed bundle@revision). */
type CompiledRevisions = Map<string, CompiledBundle>;

/**
 * What a run carries from chunk to chunk: its compiled revisions and the chart renderings they read
 * (content-addressed, so one loaded for a chunk holds for the next).
 */
interface PlacementRun {
  compiled: CompiledRevisions;
  renderings: Map<string, ChartRendering>;
}

function newRun(): PlacementRun {
  return { compiled: new Map(), renderings: new Map() };
}

/**
 * Re-places every bundle on the given sites (after a site registers, its labels change or it is approved
 * or decommissioned), a chunk of sites per transaction.
 */
export async function placeSites(ctx: HubContext, siteIds: readonly string[]): Promise<void> {
  // the profile a site follows is placed by the same rules: its target first, so the digests below cover it
  await targetProfiles(ctx, siteIds);
  await placeInChunks(ctx, siteIds, undefined);
}

/**
 * Re-places the given bundles on every site (after a bundle is applied, synced or deleted, or a rollout
 * step moved its sites), a chunk of sites per transaction, each chunk reading the bundles, the sites and
 * the rollouts afresh: what a reader sees between chunks is some sites placed and others not yet, every
 * one of them consistent (its deployments, desired digest and the aggregates agree), and a run that
 * started before a newer change cannot undo it. Call it after the change committed, having recorded with
 * markPlacementDue in that transaction that it is due: the run clears the record when it is done, and a
 * run cut short (the process died) is run again by the leader (placeOverdue).
 */
export async function placeBundles(ctx: HubContext, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const db = ctx.store.db;
  const due = await db
    .selectFrom('placement_due')
    .select(['bundle', 'generation'])
    .where('bundle', 'in', names)
    .execute();
  const ids = (await db.selectFrom('sites').select('id').orderBy('id').execute()).map((r) => r.id);
  let touched = ctx.now().getTime();
  await placeInChunks(ctx, ids, names, async () => {
    // still alive: the leader leaves a run that moves on alone (said every few seconds, not every chunk:
    // on PostgreSQL chunks are small)
    const now = ctx.now().getTime();
    if (due.length > 0 && now - touched >= overdueMs / 6) {
      touched = now;
      await db
        .updateTable('placement_due')
        .set({ updated_at: new Date(now).toISOString() })
        .where('bundle', 'in', names)
        .execute();
    }
  });
  for (const d of due) {
    await db
      .deleteFrom('placement_due')
      .where('bundle', '=', d.bundle)
      .where('generation', '=', d.generation)
      .execute();
  }
}

/**
 * Records in the caller's transaction that the bundles' placement is due; call placeBundles after the
 * commit. Should the process die before the run ends, the record outlives it (see placeOverdue).
 */
export async function markPlacementDue(ctx: HubContext, tx: Db, names: readonly string[]): Promise<void> {
  const now = ctx.now().toISOString();
  for (const bundle of [...new Set(names)].sort()) {
    await tx
      .insertInto('placement_due')
      .values({ bundle, generation: 1, updated_at: now })
      .onConflict((oc) =>
        oc.column('bundle').doUpdateSet((eb) => ({
          generation: eb('placement_due.generation', '+', 1),
          updated_at: now,
        })),
      )
      .execute();
  }
}

/** A due placement that has not moved on for this long belongs to a run that died. */
const overdueMs = 60_000;

/** Runs again the placements that were due and whose run died (the leader's status pass calls it). */
export async function placeOverdue(ctx: HubContext): Promise<string[]> {
  const cut = new Date(ctx.now().getTime() - overdueMs).toISOString();
  const rows = await ctx.store.db
    .selectFrom('placement_due')
    .select('bundle')
    .where('updated_at', '<', cut)
    .execute();
  const names = rows.map((r) => r.bundle);
  await placeBundles(ctx, names);
  return names;
}

/** What a placement chunk wrote, to announce once its transaction commits (notifyPlaced). */
interface Placed {
  /** sites whose desired-state digest changed */
  changed: string[];
  /** their desired states as committed: their woken long-polls answer with these, reading nothing */
  states: Map<string, DesiredState>;
  events: number;
}

/** What a chunk did beside what it placed: the sites it left to a later pass and how long it held rows. */
interface ChunkPlaced extends Placed {
  /** sites whose rows another transaction held, left untouched (PostgreSQL, `skip`) */
  skipped: string[];
  /** ms from locking its sites' rows to the commit: how long the chunk held them */
  heldMs: number;
}

/**
 * Passes over the sites skipping those a report held before a chunk waits for them: by then the
 * reports that held them have long committed.
 */
const skippingPasses = 3;

/**
 * Places the sites chunk after chunk, in the order given (placeBundles: by id), calling `afterChunk`
 * after each. On PostgreSQL each chunk takes the sites it can lock at once and sizes itself from the
 * last one; the sites it skipped go again in a later pass, which after `skippingPasses` waits for them.
 * On SQLite (one writer: nothing is ever skipped) every chunk takes sitesPerTransaction sites.
 */
async function placeInChunks(
  ctx: HubContext,
  ids: readonly string[],
  names: readonly string[] | undefined,
  afterChunk?: () => Promise<void>,
): Promise<void> {
  const config = ctx.config.placement;
  const locking = ctx.store.engine === 'postgres';
  const adaptive = locking && config.transactionTargetMs > 0;
  const sizing: ChunkSizing = {
    targetMs: config.transactionTargetMs,
    min: config.minSitesPerTransaction,
    max: config.sitesPerTransaction,
  };
  let size = adaptive ? firstChunkSize(sizing) : config.sitesPerTransaction;
  const run = newRun();
  let pending = ids;
  for (let pass = 0; pending.length > 0; pass++) {
    const lock = !locking ? 'none' : pass < skippingPasses ? 'skip' : 'wait';
    const skipped: string[] = [];
    for (let i = 0; i < pending.length; ) {
      const chunk = pending.slice(i, i + size);
      i += chunk.length;
      const placed = await placeChunk(ctx, chunk, names, run, lock);
      notifyPlaced(ctx, placed);
      skipped.push(...placed.skipped);
      await afterChunk?.();
      if (adaptive) size = nextChunkSize(chunk.length - placed.skipped.length, placed.heldMs, sizing);
    }
    pending = skipped;
  }
}

/** Wakes the long-polls of sites whose desired state changed and the event streams. */
function notifyPlaced(ctx: HubContext, placed: Placed): void {
  ctx.desiredWatch.notify(placed.changed, placed.states);
  if (placed.events > 0) ctx.events.notify();
}

const chunkSiteColumns = [
  ...new Set([...siteColumns, ...siteFactColumns]),
  'desired_digest',
  'worst_state',
  'attention_rank',
  'attention_reason',
  'attention_detail',
  'attention_since',
] as const;
const chunkDeploymentColumns = [...deploymentFactColumns, 'render_error'] as const;

/**
 * Places one chunk of sites in one transaction: all bundles when `names` is undefined (deployments of
 * bundles that are gone are unplaced), else the named ones. Taken under the placement lock, so chunks of
 * runs on different replicas never interleave their reads and writes. The chart renderings the chunk's
 * sites need are read in the same transaction, and those still to be made are asked for in it.
 *
 * `lock` (PostgreSQL): the sites' rows are read FOR UPDATE in id order, so no writer changes them
 * between the read and the write (a report's status columns are not overwritten with older ones);
 * `skip` leaves out those another transaction holds (returned in `skipped`, nothing of theirs
 * written), `wait` waits for them. `none` (SQLite, one writer) reads them plainly.
 */
async function placeChunk(
  ctx: HubContext,
  chunkIds: readonly string[],
  names: readonly string[] | undefined,
  run: PlacementRun,
  lock: 'none' | 'skip' | 'wait',
): Promise<ChunkPlaced> {
  let heldFrom = 0;
  const placed = await ctx.store.db.transaction().execute(async (tx) => {
    await ctx.store.sql.lockTransaction(tx as never, 'placement');
    // what needs no site row first: the chunk holds its rows from the next statement to the commit
    const bundles = await loadBundles(tx, names);
    const pins = await loadPins(tx, bundles, chunkIds);
    const targets = await loadTargets(tx, chunkIds);
    heldFrom = performance.now();
    let sitesQuery = tx.selectFrom('sites').select(chunkSiteColumns).where('id', 'in', chunkIds);
    if (lock !== 'none') sitesQuery = sitesQuery.orderBy('id').forUpdate();
    if (lock === 'skip') sitesQuery = sitesQuery.skipLocked();
    const sites = await sitesQuery.execute();
    const locked = new Set(sites.map((s) => s.id));
    const skipped = lock === 'skip' ? chunkIds.filter((id) => !locked.has(id)) : [];
    if (sites.length === 0) return { changed: [], states: new Map(), events: 0, skipped };
    const deployments = await tx
      .selectFrom('deployments')
      .select(chunkDeploymentColumns)
      .where('site_id', 'in', [...locked])
      .orderBy('site_id')
      .orderBy('bundle')
      .execute();
    const placing = names ? new Set(names) : undefined;
    const existing = deployments.filter((d) => !placing || placing.has(d.bundle)).map(toExisting);
    const placementSites = sites.map(toPlacementSite);
    await renderingsFor(tx, placementSites, bundles, pins, run.renderings, run.compiled);
    const plan = planPlacement(placementSites, bundles, existing, pins, run.renderings, run.compiled);
    return { ...(await writePlan(ctx, tx, plan, sites, deployments, targets, names === undefined)), skipped };
  });
  return { ...placed, heldMs: performance.now() - heldFrom };
}

type ChunkSite = Pick<SiteTable, (typeof chunkSiteColumns)[number]>;
type ChunkDeployment = Pick<DeploymentTable, (typeof chunkDeploymentColumns)[number]>;

/** Rows per multi-row statement: far below both engines' parameter limits. */
const rowsPerStatement = 200;

type DeploymentRow = Insertable<DeploymentTable>;

/** A deployment row as placement writes it: nothing applied or reported yet, Pending unless said. */
function deploymentRow(
  siteId: string,
  bundle: string,
  now: string,
  fields: Partial<DeploymentRow>,
): DeploymentRow {
  return {
    site_id: siteId,
    bundle,
    desired_revision: null,
    desired_digest: null,
    applied_digest: null,
    state: 'Pending',
    message: '',
    total: 0,
    applied: 0,
    ready: 0,
    not_ready: '[]',
    updated_at: now,
    render_error: null,
    state_since: now,
    ...fields,
  };
}

/**
 * Writes rows many to a statement; where a site already has the bundle's row, only `update` columns
 * change (none: the existing row stays).
 */
async function upsertDeployments(
  tx: Db,
  rows: readonly DeploymentRow[],
  update: readonly (keyof DeploymentTable & string)[],
): Promise<void> {
  for (const some of chunks(rows, rowsPerStatement)) {
    await tx
      .insertInto('deployments')
      .values(some)
      .onConflict((oc) => {
        const pair = oc.columns(['site_id', 'bundle']);
        if (update.length === 0) return pair.doNothing();
        return pair.doUpdateSet(Object.fromEntries(update.map((c) => [c, sql.ref(`excluded.${c}`)])));
      })
      .execute();
  }
}

/**
 * Writes a chunk's plan with a few multi-row statements, working out each site's facts before and after
 * from the rows the chunk read (no second read), then its desired digest (over its bundles and its
 * profile target) and derived status columns: of
 * every site when `allSites` (the sites were asked for), else of the sites the plan moved.
 */
async function writePlan(
  ctx: HubContext,
  tx: Db,
  plan: PlacementPlan,
  sites: readonly ChunkSite[],
  deployments: readonly ChunkDeployment[],
  targets: ReadonlyMap<string, StackTarget>,
  allSites: boolean,
): Promise<Placed> {
  const now = ctx.now().toISOString();
  const rowsOf = new Map<string, ChunkDeployment[]>();
  for (const d of deployments) {
    const list = rowsOf.get(d.site_id) ?? [];
    list.push(d);
    rowsOf.set(d.site_id, list);
  }
  const before = new Map<string, SiteFacts>();
  const after = new Map<string, Map<string, DeploymentFacts>>();
  /** each site's desired deployments by bundle, as they will be (null: none) */
  const desired = new Map<string, Map<string, DesiredDeployment | null>>();
  for (const s of sites) {
    const rows = rowsOf.get(s.id) ?? [];
    const facts = siteFacts(s, rows.map(deploymentFacts));
    before.set(s.id, facts);
    after.set(s.id, new Map(facts.deployments.map((d) => [d.bundle, d])));
    desired.set(s.id, new Map(rows.map((r) => [r.bundle, desiredDeploymentOf(r)])));
  }
  const moved = new Set<string>();

  for (const blob of plan.blobs.values()) {
    await tx
      .insertInto('blobs')
      .values({ digest: blob.digest, content: blob.content, created_at: now })
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
  }
  const placedRows = plan.place.map((p) => {
    moved.add(p.siteId);
    desired.get(p.siteId)?.set(p.bundle, { bundle: p.bundle, revision: p.revision, digest: p.blob.digest });
    after.get(p.siteId)?.set(p.bundle, {
      bundle: p.bundle,
      revision: p.revision,
      state: 'Pending',
      placed: true,
      stateSince: now,
      message: '',
    });
    return deploymentRow(p.siteId, p.bundle, now, {
      desired_revision: p.revision,
      desired_digest: p.blob.digest,
      total: p.blob.rendered.objects.length,
    });
  });
  await upsertDeployments(tx, placedRows, [
    'desired_revision',
    'desired_digest',
    'state',
    'message',
    'total',
    'updated_at',
    'render_error',
    'state_since',
  ]);
  // A site the revision cannot be rendered for keeps its desired digest (what it runs now) and fails alone.
  const failedRows = plan.fail.map((f) => {
    moved.add(f.siteId);
    const message = f.error.message;
    const facts = after.get(f.siteId);
    const was = facts?.get(f.bundle);
    facts?.set(f.bundle, {
      bundle: f.bundle,
      revision: was?.revision ?? null,
      state: 'Failed',
      placed: was?.placed ?? false,
      stateSince: now,
      message,
    });
    return deploymentRow(f.siteId, f.bundle, now, { state: 'Failed', message, render_error: message });
  });
  await upsertDeployments(tx, failedRows, ['state', 'message', 'render_error', 'updated_at', 'state_since']);
  // a new pair whose chart rendering is being made ships nothing yet: a Pending row says what it waits for
  const waitingRows = plan.wait.map((w) => {
    moved.add(w.siteId);
    after.get(w.siteId)?.set(w.bundle, {
      bundle: w.bundle,
      revision: null,
      state: 'Pending',
      placed: false,
      stateSince: now,
      message: renderingWaitMessage,
    });
    return deploymentRow(w.siteId, w.bundle, now, { message: renderingWaitMessage });
  });
  await upsertDeployments(tx, waitingRows, []);
  await wantRenderings(tx, plan.wanted, now);
  for (const f of plan.forget) {
    moved.add(f.siteId);
    await tx
      .deleteFrom('deployments')
      .where('site_id', '=', f.siteId)
      .where('bundle', '=', f.bundle)
      .where('desired_digest', 'is', null)
      .execute();
    const facts = after.get(f.siteId);
    if (facts?.get(f.bundle)?.placed === false) facts.delete(f.bundle);
  }
  const unplacedBy = new Map<string, string[]>();
  for (const u of plan.unplace) {
    moved.add(u.siteId);
    desired.get(u.siteId)?.set(u.bundle, null);
    after.get(u.siteId)?.set(u.bundle, {
      bundle: u.bundle,
      revision: null,
      state: 'Pending',
      placed: false,
      stateSince: now,
      message: 'removal pending',
    });
    const ids = unplacedBy.get(u.bundle) ?? [];
    ids.push(u.siteId);
    unplacedBy.set(u.bundle, ids);
  }
  for (const [bundle, ids] of unplacedBy) {
    for (const some of chunks(ids, rowsPerStatement)) {
      await tx
        .updateTable('deployments')
        .set({
          desired_revision: null,
          desired_digest: null,
          state: 'Pending',
          message: 'removal pending',
          updated_at: now,
          render_error: null,
          state_since: now,
        })
        .where('bundle', '=', bundle)
        .where('site_id', 'in', some)
        .execute();
    }
  }

  const changes: SiteChange[] = [];
  const changed: string[] = [];
  const states = new Map<string, DesiredState>();
  const siteWrites: Array<{ id: string; digest: string; derived: DerivedColumns }> = [];
  for (const s of sites) {
    // a site nothing moved on keeps what it has, unless its sites were asked for (placeSites): a site
    // that never had a deployment keeps no desired digest at all
    if (!moved.has(s.id) && !allSites) continue;
    const was = before.get(s.id)!;
    const facts: SiteFacts = moved.has(s.id) ? { ...was, deployments: [...after.get(s.id)!.values()] } : was;
    if (moved.has(s.id)) changes.push({ siteId: s.id, before: was, after: facts });
    const deployments = [...desired.get(s.id)!.values()].filter((d) => d !== null);
    const state = desiredStateOf(s.name, deployments, targets.get(s.id));
    const digest = state.digest;
    const derived = moved.has(s.id) ? derivedColumns(facts) : s;
    if (digest !== s.desired_digest) {
      changed.push(s.id);
      states.set(s.id, state);
    }
    if (digest !== s.desired_digest || !sameDerived(s, derived))
      siteWrites.push({ id: s.id, digest, derived });
  }
  for (const rows of chunks(siteWrites, rowsPerStatement)) await writeSites(tx, rows);
  const events = await recordChanges(ctx, tx, changes, [], { derivedWritten: true });
  return { changed, states, events };
}

/** A deployment row's part of its site's desired state: none until it has a desired digest. */
function desiredDeploymentOf(row: ChunkDeployment): DesiredDeployment | null {
  if (row.desired_digest === null) return null;
  return { bundle: row.bundle, revision: Number(row.desired_revision), digest: row.desired_digest };
}

function sameDerived(row: DerivedColumns, next: DerivedColumns): boolean {
  return (
    row.worst_state === next.worst_state &&
    Number(row.attention_rank) === next.attention_rank &&
    row.attention_reason === next.attention_reason &&
    row.attention_detail === next.attention_detail &&
    row.attention_since === next.attention_since
  );
}

/**
 * One statement for many sites' desired digests and derived status columns (typed for PostgreSQL),
 * joined to each site by key (sourceKey).
 */
async function writeSites(
  tx: Db,
  rows: ReadonlyArray<{ id: string; digest: string; derived: DerivedColumns }>,
): Promise<void> {
  const text = (v: string | null): RawBuilder<unknown> => sql`cast(${v} as text)`;
  const values = rows.map(
    ({ id, digest, derived: d }) =>
      sql`(${text(id)}, ${text(digest)}, ${text(d.worst_state)}, cast(${d.attention_rank} as integer), ${text(
        d.attention_reason,
      )}, ${text(d.attention_detail)}, ${text(d.attention_since)})`,
  );
  await sql`with v (id, desired_digest, worst_state, attention_rank, attention_reason, attention_detail, attention_since)
    as (values ${sql.join(values)})
    update sites set desired_digest = v.desired_digest, worst_state = v.worst_state,
      attention_rank = v.attention_rank, attention_reason = v.attention_reason,
      attention_detail = v.attention_detail, attention_since = v.attention_since
    from v where sites.id = ${sourceKey(tx as never, 'v')}`.execute(tx);
}
