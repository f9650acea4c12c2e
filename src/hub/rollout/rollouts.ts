// Bundle rollouts: starting one (from an apply with spec.rollout, or from the API), queuing one behind the
// running one, and the views the API and CLI show. Stored through rollout-store.ts; the controller moves them.

import { OutpostError } from '../../model/errors.ts';
import type { NewEvent } from '../../model/event.ts';
import { type RolloutStrategy, strategyNamed, validateStrategy } from '../../model/rollout-strategy.ts';
import type { RolloutDetail, RolloutView } from '../../model/wire.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { StoredFleet } from '../bundles/revisions.ts';
import type { HubContext } from '../context.ts';
import { newId } from '../ids.ts';
import { markPlacementDue, placeBundles } from '../placement/place.ts';
import { insertEvents } from '../status/events.ts';
import type { Db, RolloutSiteTable, RolloutTable } from '../store/schema.ts';
import { gateResults } from './core/decide.ts';
import { planRollout, type RolloutPhase, type RolloutState } from './core/state.ts';
import {
  bundleRollouts,
  insertRolloutSites,
  markSuperseded,
  rolloutHead,
  rolloutRow,
  rolloutRows,
  rolloutWaves,
} from './rollout-store.ts';
import { loadSiteProgress } from './site-progress.ts';
import { resolveStrategy } from './strategies.ts';

export interface NewRollout {
  bundle: string;
  fromRevision: number;
  toRevision: number;
  strategy: RolloutStrategy;
  createdBy: string;
}

/** Phases in which a rollout is still moving sites: a new rollout of its bundle waits for it. */
export const runningPhases: readonly RolloutPhase[] = [
  'Progressing',
  'Baking',
  'AwaitingApproval',
  'Paused',
  'RollingBack',
];

/**
 * Ends the bundle's rollouts (its current one and any queued) as Superseded: they hold no site back any
 * more. Called when the bundle gets a new revision that does not wait.
 */
export async function supersedeRollouts(ctx: HubContext, tx: Db, bundle: string): Promise<NewEvent[]> {
  return supersede(ctx, tx, bundle, 'a newer revision took the bundle');
}

/**
 * Marks the bundle's rollouts Superseded with the reason: all of them but `except`, or only the queued
 * one. An event says so for each that was still running or waiting.
 */
async function supersede(
  ctx: HubContext,
  tx: Db,
  bundle: string,
  reason: string,
  which: { except?: string; onlyQueued?: boolean } = {},
): Promise<NewEvent[]> {
  let q = tx
    .selectFrom('rollouts')
    .select(['id', 'state'])
    .where('bundle', '=', bundle)
    .where('phase', '<>', 'Superseded');
  if (which.except !== undefined) q = q.where('id', '<>', which.except);
  if (which.onlyQueued) q = q.where('phase', '=', 'Queued');
  const running = await markSuperseded(
    tx,
    bundleRollouts,
    await q.execute(),
    reason,
    ctx.now().toISOString(),
  );
  return running.map((r) => ({
    type: 'rollout_superseded',
    bundle,
    message: `rollout ${r.id} of ${bundle} superseded: ${reason}`,
    details: { rollout: r.id },
  }));
}

/** The bundle's rollout that is still moving sites, if any. */
async function runningRollout(tx: Db, bundle: string): Promise<RolloutTable | undefined> {
  return tx
    .selectFrom('rollouts')
    .selectAll()
    .where('bundle', '=', bundle)
    .where('phase', 'in', [...runningPhases])
    .executeTakeFirst();
}

/**
 * Creates a rollout inside the caller's transaction. While another rollout of the bundle is running it
 * waits, Queued (replacing a queued one: only the newest revision waits), unless its strategy says
 * `supersede`; otherwise it supersedes the bundle's rollouts and starts over every Active site the bundle
 * is placed on. Placement must run after it (in the same transaction or after the commit) to pin sites.
 */
export async function createRollout(ctx: HubContext, tx: Db, spec: NewRollout): Promise<string> {
  const now = ctx.now().toISOString();
  const id = newId(ctx.now());
  const running = spec.strategy.supersede ? undefined : await runningRollout(tx, spec.bundle);
  if (running) {
    // only the newest revision waits
    const events = await supersede(
      ctx,
      tx,
      spec.bundle,
      `replaced in the queue by rollout ${id} of r${spec.toRevision} before it started`,
      { onlyQueued: true },
    );
    const state: RolloutState = {
      phase: 'Queued',
      waves: [],
      wave: 0,
      failures: 0,
      acceptedFailures: 0,
      actions: [],
      reason: `waits for rollout ${running.id} (r${running.to_revision}) to end`,
    };
    await tx
      .insertInto('rollouts')
      .values(rolloutRowOf(id, spec, state, now))
      .execute();
    events.push({
      type: 'rollout_queued',
      bundle: spec.bundle,
      message: `rollout ${id} of ${spec.bundle} r${spec.toRevision} waits for rollout ${running.id} to end (apply with supersede to start it now)`,
      details: { rollout: id, waitsFor: running.id, to: spec.toRevision },
    });
    await insertEvents(ctx, tx, events);
    return id;
  }
  const events = await supersedeRollouts(ctx, tx, spec.bundle);
  const { state, sites } = await planSites(tx, id, spec, now);
  await tx
    .insertInto('rollouts')
    .values(rolloutRowOf(id, spec, state, now))
    .execute();
  await insertRolloutSites(tx, bundleRollouts, sites);
  events.push(startedEvent(id, spec, state));
  await insertEvents(ctx, tx, events);
  return id;
}

/**
 * Starts a queued rollout once its bundle has no running one (the controller calls it): the bundle's
 * earlier rollouts are superseded and the sites planned from the revisions they run now.
 */
export async function startQueued(ctx: HubContext, tx: Db, r: RolloutTable): Promise<boolean> {
  if (await runningRollout(tx, r.bundle)) return false;
  const spec: NewRollout = {
    bundle: r.bundle,
    fromRevision: Number(r.from_revision),
    toRevision: Number(r.to_revision),
    strategy: JSON.parse(r.strategy) as RolloutStrategy,
    createdBy: r.created_by,
  };
  const events = await supersede(ctx, tx, r.bundle, `queued rollout ${r.id} started`, { except: r.id });
  const { state, sites } = await planSites(tx, r.id, spec, ctx.now().toISOString());
  await insertRolloutSites(tx, bundleRollouts, sites);
  const written = await tx
    .updateTable('rollouts')
    .set({ phase: state.phase, state: JSON.stringify(state), updated_at: ctx.now().toISOString() })
    .where('id', '=', r.id)
    .where('phase', '=', 'Queued')
    .executeTakeFirst();
  if (Number(written.numUpdatedRows) === 0) return false;
  await insertEvents(ctx, tx, [...events, startedEvent(r.id, spec, state)]);
  return true;
}

/** The new rollout's row, in the phase its state says. */
function rolloutRowOf(id: string, spec: NewRollout, state: RolloutState, now: string): RolloutTable {
  return {
    id,
    bundle: spec.bundle,
    from_revision: spec.fromRevision,
    to_revision: spec.toRevision,
    strategy: JSON.stringify(spec.strategy),
    state: JSON.stringify(state),
    phase: state.phase,
    created_at: now,
    updated_at: now,
    created_by: spec.createdBy,
  };
}

/**
 * One row per Active site the bundle is placed on, in its wave, remembering the revision the site runs:
 * it stays there until started and returns there on rollback. A site already on the new revision starts
 * out Updated.
 */
async function planSites(
  tx: Db,
  id: string,
  spec: NewRollout,
  now: string,
): Promise<{ state: RolloutState; sites: RolloutSiteTable[] }> {
  const placed = await tx
    .selectFrom('deployments')
    .innerJoin('sites', 'sites.id', 'deployments.site_id')
    .select(['sites.id', 'sites.name', 'sites.labels', 'deployments.desired_revision'])
    .where('deployments.bundle', '=', spec.bundle)
    .where('deployments.desired_digest', 'is not', null)
    .where('sites.lifecycle', '=', 'Active')
    .execute();
  const { state, rows } = planRollout(
    spec.strategy,
    placed.map((s) => ({ id: s.id, name: s.name, labels: JSON.parse(s.labels) })),
  );
  const runs = new Map(
    placed.map((s) => [s.id, s.desired_revision === null ? null : Number(s.desired_revision)]),
  );
  const sites = rows.map((r) => {
    const onTarget = runs.get(r.siteId) === spec.toRevision;
    return {
      rollout_id: id,
      site_id: r.siteId,
      wave: r.wave,
      status: onTarget ? 'Updated' : 'Waiting',
      started_at: onTarget ? now : null,
      baseline: null,
      reason: null,
      from_revision: onTarget ? null : (runs.get(r.siteId) ?? null),
    };
  });
  return { state, sites };
}

function startedEvent(id: string, spec: NewRollout, state: RolloutState): NewEvent {
  return {
    type: 'rollout_started',
    bundle: spec.bundle,
    message: `rollout ${id} of ${spec.bundle} r${spec.fromRevision} → r${spec.toRevision} in ${state.waves.length} waves (${state.waves.join(', ')})`,
    details: { rollout: id, from: spec.fromRevision, to: spec.toRevision },
  };
}

/**
 * What a new revision of a bundle does to its rollouts (inside the transaction that stored it): with a
 * strategy and a previous revision, a rollout from that one starts (or queues behind the running one);
 * otherwise the bundle's rollouts are superseded and every site gets the revision at once. Returns the
 * new rollout's id.
 */
export async function followRevision(
  ctx: HubContext,
  tx: Db,
  spec: {
    bundle: string;
    previous: number | null;
    revision: number;
    strategy?: RolloutStrategy;
    by: string;
    supersede?: boolean;
  },
): Promise<string | undefined> {
  if (spec.strategy && spec.previous !== null) {
    return createRollout(ctx, tx, {
      bundle: spec.bundle,
      fromRevision: spec.previous,
      toRevision: spec.revision,
      strategy: spec.supersede ? { ...spec.strategy, supersede: true } : spec.strategy,
      createdBy: spec.by,
    });
  }
  await insertEvents(ctx, tx, await supersedeRollouts(ctx, tx, spec.bundle));
  return undefined;
}

/**
 * Starts a rollout of the bundle's latest revision on an operator's request: from the revision the
 * bundle's current rollout started from, or else the one before. Sites already on the latest revision
 * count as updated.
 */
export async function startRollout(
  ctx: HubContext,
  actor: Actor,
  body: { bundle: string; strategy?: Record<string, unknown>; supersede?: boolean },
): Promise<string> {
  const id = await ctx.store.db.transaction().execute(async (tx) => {
    const bundle = await tx
      .selectFrom('bundles')
      .innerJoin('bundle_revisions', (j) =>
        j
          .onRef('bundle_revisions.bundle', '=', 'bundles.name')
          .onRef('bundle_revisions.revision', '=', 'bundles.revision'),
      )
      .select(['bundles.name', 'bundles.revision', 'bundle_revisions.fleet'])
      .where('bundles.name', '=', body.bundle)
      .executeTakeFirst();
    if (!bundle) throw new OutpostError('not_found', `no bundle named ${body.bundle}`);
    const to = Number(bundle.revision);
    // the request's strategy, else the revision's own spec.rollout, else the defaults
    let strategy: RolloutStrategy;
    if (body.strategy) {
      const checked = validateStrategy(body.strategy);
      if ('problems' in checked) {
        const p = checked.problems[0]!;
        throw new OutpostError('request_invalid', `strategy.${p.path}: ${p.message}`);
      }
      strategy = checked.strategy;
    } else {
      strategy =
        (await resolveStrategy(tx, (JSON.parse(bundle.fleet) as StoredFleet).rollout)) ??
        strategyNamed('canary')!;
    }
    if (body.supersede !== undefined) strategy = { ...strategy, supersede: body.supersede };
    const running = await runningRollout(tx, body.bundle);
    if (running && Number(running.to_revision) === to && !strategy.supersede) {
      throw new OutpostError(
        'conflict',
        `rollout ${running.id} of ${body.bundle} r${to} is still ${running.phase}; act on it, or start a new one with supersede`,
      );
    }
    const current = await tx
      .selectFrom('rollouts')
      .select(['from_revision', 'to_revision'])
      .where('bundle', '=', body.bundle)
      .where('phase', 'not in', ['Superseded', 'Queued'])
      .executeTakeFirst();
    let from = current && Number(current.to_revision) === to ? Number(current.from_revision) : undefined;
    if (from === undefined) {
      const before = await tx
        .selectFrom('bundle_revisions')
        .select((eb) => eb.fn.max('revision').as('n'))
        .where('bundle', '=', body.bundle)
        .where('revision', '<', to)
        .executeTakeFirst();
      if (before?.n === null || before?.n === undefined) {
        throw new OutpostError(
          'conflict',
          `bundle ${body.bundle} has only revision ${to}: there is nothing to roll out from`,
        );
      }
      from = Number(before.n);
    }
    const id = await createRollout(ctx, tx, {
      bundle: body.bundle,
      fromRevision: from,
      toRevision: to,
      strategy,
      createdBy: actor.name,
    });
    await audit(tx, ctx.now(), actor, 'rollout.start', `rollout/${id}`, { bundle: body.bundle, from, to });
    await markPlacementDue(ctx, tx, [body.bundle]);
    return id;
  });
  ctx.events.notify();
  await placeBundles(ctx, [body.bundle]);
  return id;
}

function rolloutView(r: RolloutTable): RolloutView {
  return { ...rolloutHead(r), bundle: r.bundle };
}

/** Rollouts, newest first; only the bundle's when given. */
export async function listRollouts(ctx: HubContext, bundle?: string): Promise<RolloutView[]> {
  return (await rolloutRows(ctx.store.db, bundleRollouts, bundle)).map(rolloutView);
}

export async function rolloutDetail(ctx: HubContext, id: string): Promise<RolloutDetail> {
  const r = await rolloutRow(ctx.store.db, bundleRollouts, id);
  const state = JSON.parse(r.state) as RolloutState;
  const { waves, waitingOffline } = await rolloutWaves(ctx.store.db, bundleRollouts, id, state);
  const strategy = JSON.parse(r.strategy) as RolloutStrategy;
  return {
    ...rolloutView(r),
    waves,
    waitingOffline,
    failures: state.failures,
    pendingActions: state.actions.map((a) => a.type),
    strategy: strategy as unknown as Record<string, unknown>,
    gates: await gatesNow(ctx, r, strategy),
  };
}

/** The strategy's gates evaluated now over the same rows and metrics the controller decides on. */
async function gatesNow(
  ctx: HubContext,
  r: RolloutTable,
  strategy: RolloutStrategy,
): Promise<RolloutDetail['gates']> {
  if (strategy.gates.length === 0) return [];
  const { sites } = await loadSiteProgress(ctx, ctx.store.db, r, strategy);
  return gateResults(strategy, sites).map((result, i) => {
    const gate = strategy.gates[i]!;
    return { ...result, metric: gate.metric, op: gate.op, threshold: gate.threshold };
  });
}
