// Runs placement against the store: loads the sites and bundles concerned (and the chart renderings
// their chart bundles need), plans (pure), then writes the deployments' desired digests and each touched
// site's desired-state digest in one transaction (with the status changes that follow, and the chart
// renderings still to be made), and wakes the agents whose desired state changed.

import type { ParsedBundle } from '../../render/bundle-files.ts';
import type { ChartRendering } from '../../render/chart-bundle.ts';
import { kubeVersionForHelm } from '../../render/generator-spec.ts';
import { desiredDigest } from '../../render/rendered.ts';
import { type StoredFleet, storedFleet } from '../bundles/revisions.ts';
import type { HubContext } from '../context.ts';
import type { DeploymentFacts } from '../status/aggregate.ts';
import { loadFacts, recordChanges, type SiteChange } from '../status/site-status.ts';
import type { Db } from '../store/schema.ts';
import {
  type ExistingDeployment,
  type PlacementBundle,
  type PlacementPlan,
  type PlacementSite,
  pinKey,
  planPlacement,
  renderingWaitMessage,
} from './plan.ts';
import { loadRenderings, wantRenderings } from './renderings.ts';

const chunk = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += chunk) out.push(items.slice(i, i + chunk));
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

const existingColumns = ['site_id', 'bundle', 'desired_digest', 'render_error', 'message'] as const;

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
 * The chart renderings made so far that these sites need from the chart bundles among `bundles` (and
 * the revisions rollouts pin): a first, chart-only pass names the input digests, which are then loaded.
 */
export async function renderingsFor(
  db: Db,
  sites: readonly PlacementSite[],
  bundles: readonly PlacementBundle[],
  pins: ReadonlyMap<string, PlacementBundle>,
): Promise<Map<string, ChartRendering>> {
  const charted = new Set([...bundles, ...pins.values()].filter((b) => b.helm).map((b) => b.name));
  if (charted.size === 0) return new Map();
  const probe = planPlacement(
    sites,
    bundles.filter((b) => charted.has(b.name)),
    [],
    pins,
  );
  return loadRenderings(db, [...probe.wanted.keys()]);
}

/** Re-places every bundle on the given sites (after a site registers or its labels change). */
export async function placeSites(ctx: HubContext, siteIds: readonly string[]): Promise<void> {
  const db = ctx.store.db;
  const bundles = await loadBundles(db);
  for (const ids of chunks(siteIds)) {
    const sites = await db.selectFrom('sites').select(siteColumns).where('id', 'in', ids).execute();
    const existing = await db
      .selectFrom('deployments')
      .select(existingColumns)
      .where('site_id', 'in', ids)
      .execute();
    const pins = await loadPins(db, bundles, ids);
    const placing = sites.map(toPlacementSite);
    const renderings = await renderingsFor(db, placing, bundles, pins);
    const plan = planPlacement(placing, bundles, existing.map(toExisting), pins, renderings);
    const written = await db.transaction().execute((tx) => writePlan(ctx, tx, plan, ids));
    notifyPlaced(ctx, written);
  }
}

/** Re-places the given bundles on every site (after a bundle is applied or deleted). */
export async function placeBundles(ctx: HubContext, names: readonly string[]): Promise<void> {
  const written = await ctx.store.db.transaction().execute((tx) => placeBundlesIn(ctx, tx, names));
  notifyPlaced(ctx, written);
}

/** What a placement wrote, to announce once its transaction commits (notifyPlaced). */
export interface Placed {
  /** sites whose desired-state digest changed */
  changed: string[];
  events: number;
}

/**
 * placeBundles inside the caller's transaction, so a change that moves desired revisions (a rollout
 * step) commits with them; call notifyPlaced after the commit.
 */
export async function placeBundlesIn(ctx: HubContext, tx: Db, names: readonly string[]): Promise<Placed> {
  const bundles = await loadBundles(tx, names);
  const sites = (await tx.selectFrom('sites').select(siteColumns).execute()).map(toPlacementSite);
  const existing = (
    await tx.selectFrom('deployments').select(existingColumns).where('bundle', 'in', names).execute()
  ).map(toExisting);
  const pins = await loadPins(tx, bundles);
  const renderings = await renderingsFor(tx, sites, bundles, pins);
  const plan = planPlacement(sites, bundles, existing, pins, renderings);
  return writePlan(ctx, tx, plan, []);
}

/** Wakes the long-polls of sites whose desired state changed and the event streams. */
export function notifyPlaced(ctx: HubContext, placed: Placed): void {
  ctx.desiredWatch.notify(placed.changed);
  if (placed.events > 0) ctx.events.notify();
}

async function writePlan(
  ctx: HubContext,
  tx: Db,
  plan: PlacementPlan,
  alwaysRecompute: readonly string[],
): Promise<Placed> {
  const now = ctx.now().toISOString();
  const touched = new Set<string>(alwaysRecompute);
  const changed: string[] = [];
  {
    const moved = [
      ...new Set([
        ...plan.place.map((p) => p.siteId),
        ...plan.unplace.map((u) => u.siteId),
        ...plan.fail.map((f) => f.siteId),
        ...plan.forget.map((f) => f.siteId),
        ...plan.wait.map((w) => w.siteId),
      ]),
    ];
    const before = await loadFacts(tx, moved);
    const after = new Map<string, Map<string, DeploymentFacts>>();
    for (const [id, f] of before) after.set(id, new Map(f.deployments.map((d) => [d.bundle, d])));
    for (const blob of plan.blobs.values()) {
      await tx
        .insertInto('blobs')
        .values({ digest: blob.digest, content: blob.content, created_at: now })
        .onConflict((oc) => oc.column('digest').doNothing())
        .execute();
    }
    for (const p of plan.place) {
      touched.add(p.siteId);
      await tx
        .insertInto('deployments')
        .values({
          site_id: p.siteId,
          bundle: p.bundle,
          desired_revision: p.revision,
          desired_digest: p.blob.digest,
          applied_digest: null,
          state: 'Pending',
          message: '',
          total: p.blob.rendered.objects.length,
          applied: 0,
          ready: 0,
          not_ready: '[]',
          updated_at: now,
          render_error: null,
          state_since: now,
        })
        .onConflict((oc) =>
          oc.columns(['site_id', 'bundle']).doUpdateSet({
            desired_revision: p.revision,
            desired_digest: p.blob.digest,
            state: 'Pending',
            message: '',
            total: p.blob.rendered.objects.length,
            updated_at: now,
            render_error: null,
            state_since: now,
          }),
        )
        .execute();
      after.get(p.siteId)?.set(p.bundle, {
        bundle: p.bundle,
        revision: p.revision,
        state: 'Pending',
        placed: true,
        stateSince: now,
        message: '',
      });
    }
    // A site the revision cannot be rendered for keeps its desired digest (what it runs now) and fails alone.
    for (const f of plan.fail) {
      const message = f.error.message;
      await tx
        .insertInto('deployments')
        .values({
          site_id: f.siteId,
          bundle: f.bundle,
          desired_revision: null,
          desired_digest: null,
          applied_digest: null,
          state: 'Failed',
          message,
          total: 0,
          applied: 0,
          ready: 0,
          not_ready: '[]',
          updated_at: now,
          render_error: message,
          state_since: now,
        })
        .onConflict((oc) =>
          oc.columns(['site_id', 'bundle']).doUpdateSet({
            state: 'Failed',
            message,
            render_error: message,
            updated_at: now,
            state_since: now,
          }),
        )
        .execute();
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
    }
    for (const w of plan.wait) {
      await tx
        .insertInto('deployments')
        .values({
          site_id: w.siteId,
          bundle: w.bundle,
          desired_revision: null,
          desired_digest: null,
          applied_digest: null,
          state: 'Pending',
          message: renderingWaitMessage,
          total: 0,
          applied: 0,
          ready: 0,
          not_ready: '[]',
          updated_at: now,
          render_error: null,
          state_since: now,
        })
        .onConflict((oc) => oc.columns(['site_id', 'bundle']).doNothing())
        .execute();
      after.get(w.siteId)?.set(w.bundle, {
        bundle: w.bundle,
        revision: null,
        state: 'Pending',
        placed: false,
        stateSince: now,
        message: renderingWaitMessage,
      });
    }
    await wantRenderings(tx, plan.wanted, now);
    for (const f of plan.forget) {
      await tx
        .deleteFrom('deployments')
        .where('site_id', '=', f.siteId)
        .where('bundle', '=', f.bundle)
        .where('desired_digest', 'is', null)
        .execute();
      const facts = after.get(f.siteId);
      if (facts?.get(f.bundle)?.placed === false) facts.delete(f.bundle);
    }
    for (const u of plan.unplace) {
      touched.add(u.siteId);
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
        .where('site_id', '=', u.siteId)
        .where('bundle', '=', u.bundle)
        .execute();
      after.get(u.siteId)?.set(u.bundle, {
        bundle: u.bundle,
        revision: null,
        state: 'Pending',
        placed: false,
        stateSince: now,
        message: 'removal pending',
      });
    }
    const changes: SiteChange[] = [...before].map(([siteId, f]) => ({
      siteId,
      before: f,
      after: { ...f, deployments: [...after.get(siteId)!.values()] },
    }));
    const stored = await recordChanges(ctx, tx, changes);
    for (const ids of chunks([...touched])) {
      const rows = await tx
        .selectFrom('deployments')
        .select(['site_id', 'bundle', 'desired_digest'])
        .where('site_id', 'in', ids)
        .where('desired_digest', 'is not', null)
        .execute();
      const bySite = new Map<string, Array<{ bundle: string; digest: string }>>(ids.map((id) => [id, []]));
      for (const r of rows) bySite.get(r.site_id)?.push({ bundle: r.bundle, digest: r.desired_digest! });
      const current = await tx
        .selectFrom('sites')
        .select(['id', 'desired_digest'])
        .where('id', 'in', ids)
        .execute();
      for (const site of current) {
        const digest = desiredDigest(bySite.get(site.id) ?? []);
        if (digest !== site.desired_digest) {
          await tx.updateTable('sites').set({ desired_digest: digest }).where('id', '=', site.id).execute();
          changed.push(site.id);
        }
      }
    }
    return { changed, events: stored };
  }
}
