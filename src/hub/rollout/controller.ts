// The rollout controller: on each tick, every running rollout is decided (pure core) from its stored rows
// and the hub's live facts, and the outcome committed in one transaction with the desired revisions it moves.

import type { EventType, NewEvent } from '../../model/event.ts';
import type { RolloutStrategy } from '../../model/rollout-strategy.ts';
import type { HubContext } from '../context.ts';
import { notifyPlaced, type Placed, placeBundlesIn } from '../placement/place.ts';
import { insertEvents } from '../status/events.ts';
import type { Db } from '../store/schema.ts';
import { decide, type RolloutEvent, type RolloutEventType } from './core/decide.ts';
import { finalPhases, type RolloutState } from './core/state.ts';
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

/** Decides every running rollout once. Succeeded ones are included: they still bring returning sites up. */
export async function tickRollouts(ctx: HubContext): Promise<void> {
  const running = await ctx.store.db
    .selectFrom('rollouts')
    .select('id')
    .where('phase', 'not in', [...finalPhases])
    .orderBy('id')
    .execute();
  for (const r of running) await tickRollout(ctx, r.id);
}

/**
 * One decision for one rollout, committed with everything it implies: the state (compare-and-set on the
 * state read), row transitions (compare-and-set on `from`), the bundle re-placed so started sites get the
 * new revision and rolled-back ones the old, and the events. A racing tick loses the compare and changes
 * nothing, so no site is started twice.
 */
export async function tickRollout(ctx: HubContext, id: string): Promise<void> {
  const outcome = await ctx.store.db.transaction().execute(async (tx) => {
    const r = await tx.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r || r.phase === 'Superseded' || (finalPhases as readonly string[]).includes(r.phase)) return;
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
      return { placed: await placeBundlesIn(ctx, tx, [r.bundle]), events: 1 };
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
    const next = JSON.stringify(decision.state);
    if (next === r.state && decision.transitions.length === 0) return;
    const written = await tx
      .updateTable('rollouts')
      .set({ state: next, phase: decision.state.phase, updated_at: ctx.now().toISOString() })
      .where('id', '=', id)
      .where('state', '=', r.state)
      .executeTakeFirst();
    if (Number(written.numUpdatedRows) === 0) return;
    for (const t of decision.transitions) {
      await tx
        .updateTable('rollout_sites')
        .set({
          status: t.to,
          reason: t.reason ?? null,
          ...(t.startedAt !== undefined ? { started_at: t.startedAt } : {}),
          ...(t.baseline !== undefined ? { baseline: JSON.stringify(t.baseline) } : {}),
        })
        .where('rollout_id', '=', id)
        .where('site_id', '=', t.siteId)
        .where('status', '=', t.from)
        .execute();
    }
    let placed: Placed = { changed: [], events: 0 };
    if (decision.start.length > 0 || decision.rollback.length > 0) {
      placed = await placeBundlesIn(ctx, tx, [r.bundle]);
    }
    const events = decision.events.map((e) => toEvent(e, id, r.bundle, names));
    await insertEvents(ctx, tx, events);
    return { placed, events: events.length };
  });
  if (outcome) notifyPlaced(ctx, { ...outcome.placed, events: outcome.placed.events + outcome.events });
}

function toEvent(e: RolloutEvent, rollout: string, bundle: string, names: Map<string, string>): NewEvent {
  return {
    type: eventTypeOf[e.type] ?? 'rollout_progress',
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
