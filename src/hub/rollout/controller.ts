// The rollout controller: on each tick, every running rollout is decided (pure core) from its stored rows
// and the hub's live facts, and the outcome committed in one transaction; the desired revisions it moves
// follow in placement's chunks right after (recorded as due in that transaction, so they always follow).

import type { EventType, NewEvent } from '../../model/event.ts';
import type { RolloutStrategy } from '../../model/rollout-strategy.ts';
import type { HubContext } from '../context.ts';
import { markPlacementDue, placeBundles } from '../placement/place.ts';
import { insertEvents } from '../status/events.ts';
import type { Db } from '../store/schema.ts';
import { decide, type RolloutEvent, type RolloutEventType } from './core/decide.ts';
import type { RolloutState } from './core/state.ts';
import { bundleRollouts, rolloutsToStep, rolloutToStep, writeDecision } from './rollout-store.ts';
import { startQueued, supersedeRollouts } from './rollouts.ts';
import { loadSiteProgress } from './site-progress.ts';

const eventTypeOf: Partial<Record<RolloutEventType, EventType>> = {
  WaveStarted: 'wave_started',
  SiteFailed: 'rollout_site_failed',
  RolloutPaused: 'rollout_paused',
  RolloutResumed: 'rollout_resumed',
  RollingBack: 'rollout_rolling_back',
  RollbackIssued: 'rollout_rolled_back',
  RolloutSucceeded: 'rollout_succeeded',
  RolloutFailed: 'rollout_failed',
  RolloutAborted: 'rollout_aborted',
};

/** The event type a rollout decision's event is recorded as (profile rollouts record theirs alike). */
export function rolloutEventType(type: RolloutEventType): EventType {
  return eventTypeOf[type] ?? 'rollout_progress';
}

/** Decides every running rollout once. Succeeded ones are included: they still bring returning sites up. */
export async function tickRollouts(ctx: HubContext): Promise<void> {
  const running = await rolloutsToStep(ctx.store.db, bundleRollouts);
  if (running.length === 0) return;
  // A decision reads where the rollout's sites are, so a placement of its bundle still due is run first:
  // its run died with the replica that led (killed between a step's commit and its placement), or runs
  // on another replica, and placing twice places the same.
  const due = await ctx.store.db
    .selectFrom('placement_due')
    .select('bundle')
    .where('bundle', 'in', [...new Set(running.map((r) => r.bundle))])
    .execute();
  await placeBundles(
    ctx,
    due.map((d) => d.bundle),
  );
  for (const r of running) await tickRollout(ctx, r.id);
}

/**
 * One decision for one rollout, committed with everything it implies: the state (compare-and-set on the
 * state read), row transitions (compare-and-set on `from`), the events, and the bundle's placement marked
 * due; the placement then runs, so started sites get the new revision and rolled-back ones the old. A
 * racing tick loses the compare and changes nothing, so no site is started twice. Until a site's chunk is
 * placed it still has its old desired revision, which the decision reads as not yet updated (site-progress
 * counts a state only for the new revision), as it reads an agent that has not applied yet.
 */
export async function tickRollout(ctx: HubContext, id: string): Promise<void> {
  const outcome = await ctx.store.db.transaction().execute(async (tx) => {
    const r = await rolloutToStep(tx, bundleRollouts, id);
    if (!r) return;
    const bundle = await tx
      .selectFrom('bundles')
      .select('revision')
      .where('name', '=', r.bundle)
      .executeTakeFirst();
    // a deleted bundle holds no site back any more: the rollout is over
    if (!bundle) {
      await supersedeRollouts(ctx, tx, r.bundle);
      return;
    }
    if (r.phase === 'Queued') {
      if (!(await startQueued(ctx, tx, r))) return;
      await markPlacementDue(ctx, tx, [r.bundle]);
      return { bundle: r.bundle, place: true, events: 1 };
    }
    // a rollout of an older revision runs on only while the latest one waits behind it
    if (Number(bundle.revision) !== Number(r.to_revision) && !(await hasQueued(tx, r.bundle))) {
      await supersedeRollouts(ctx, tx, r.bundle);
      return;
    }
    const state = JSON.parse(r.state) as RolloutState;
    const strategy = JSON.parse(r.strategy) as RolloutStrategy;
    const { sites, names } = await loadSiteProgress(ctx, tx, r, strategy);
    const decision = decide({ strategy, state, sites, now: ctx.now() });
    if (!(await writeDecision(tx, bundleRollouts, r, decision, ctx.now().toISOString()))) return;
    const place = decision.start.length > 0 || decision.rollback.length > 0;
    if (place) await markPlacementDue(ctx, tx, [r.bundle]);
    const events = decision.events.map((e) => toEvent(e, id, r.bundle, names));
    await insertEvents(ctx, tx, events);
    return { bundle: r.bundle, place, events: events.length };
  });
  if (outcome?.events) ctx.events.notify();
  if (outcome?.place) await placeBundles(ctx, [outcome.bundle]);
}

function toEvent(e: RolloutEvent, rollout: string, bundle: string, names: Map<string, string>): NewEvent {
  return {
    type: rolloutEventType(e.type),
    bundle,
    ...(e.siteId !== undefined ? { site: names.get(e.siteId) ?? e.siteId } : {}),
    message: `rollout ${rollout}: ${e.message}`,
    details: { rollout, kind: e.type, ...(e.wave !== undefined ? { wave: e.wave } : {}) },
  };
}

async function hasQueued(tx: Db, bundle: string): Promise<boolean> {
  const q = await tx
    .selectFrom('rollouts')
    .select('id')
    .where('bundle', '=', bundle)
    .where('phase', '=', 'Queued')
    .executeTakeFirst();
  return q !== undefined;
}
