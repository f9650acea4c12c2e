// Profile rollouts: every new revision of a profile moves over the sites that follow it in the waves of
// its strategy, decided by the same pure core as a bundle's (rollout/core), reading each started site's
// conformance to the new revision. A failure pauses; nothing rolls back (Kubernetes cannot go back a minor).

import { OutpostError } from '../../model/errors.ts';
import type { NewEvent } from '../../model/event.ts';
import type { ProfileSpec } from '../../model/profile.ts';
import type { ProfileRolloutDetail, ProfileRolloutView } from '../../model/profile-wire.ts';
import { type RolloutStrategy, strategyNamed } from '../../model/rollout-strategy.ts';
import type { RolloutActionRequest } from '../../model/wire.ts';
import type { Actor } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { newId } from '../ids.ts';
import { rolloutEventType } from '../rollout/controller.ts';
import { decide } from '../rollout/core/decide.ts';
import {
  finalPhases,
  planRollout,
  type RolloutState,
  type SiteProgress,
  type SiteTransition,
} from '../rollout/core/state.ts';
import {
  insertRolloutSites,
  markSuperseded,
  profileRollouts,
  queueRolloutAction,
  rolloutHead,
  rolloutRow,
  rolloutRows,
  rolloutsToStep,
  rolloutToStep,
  rolloutWaves,
  siteProgressOf,
  writeDecision,
} from '../rollout/rollout-store.ts';
import { resolveStrategy } from '../rollout/strategies.ts';
import { insertEvents } from '../status/events.ts';
import type { Db, ProfileRolloutTable } from '../store/schema.ts';
import { behindReason, profileStrategy, progressStateOf } from './core/rollout-progress.ts';
import { judgeSites } from './site-conformance.ts';
import { targetProfiles } from './targets.ts';

/**
 * Starts the rollout of a profile's new revision inside the transaction that stored it: the profile's
 * running rollout is superseded (the newest revision is what a site gets when its wave starts), and
 * every Active site given the profile's earlier revision is planned into a wave, keeping that revision
 * until started. Run targetProfiles after the commit.
 */
export async function startProfileRollout(
  ctx: HubContext,
  tx: Db,
  spec: { profile: string; from: number; to: number; profileSpec: ProfileSpec; by: string },
): Promise<string> {
  const now = ctx.now().toISOString();
  const id = newId(ctx.now());
  const events = await supersede(ctx, tx, spec.profile, `revision ${spec.to} took the profile`);
  const named = spec.profileSpec.rollout ?? 'canary';
  const chosen = (await resolveStrategy(tx, named)) ?? strategyNamed('canary')!;
  const strategy = profileStrategy(chosen, spec.profileSpec.upgradeDeadlineSeconds);
  const following = await tx
    .selectFrom('profile_targets')
    .innerJoin('sites', 'sites.id', 'profile_targets.site_id')
    .select(['sites.id', 'sites.name', 'sites.labels', 'profile_targets.revision'])
    .where('profile_targets.profile', '=', spec.profile)
    .where('sites.lifecycle', '=', 'Active')
    .execute();
  const { state, rows } = planRollout(
    strategy,
    following.map((s) => ({ id: s.id, name: s.name, labels: JSON.parse(s.labels) })),
  );
  const given = new Map(following.map((s) => [s.id, Number(s.revision)]));
  await tx
    .insertInto('profile_rollouts')
    .values({
      id,
      profile: spec.profile,
      from_revision: spec.from,
      to_revision: spec.to,
      strategy: JSON.stringify(strategy),
      state: JSON.stringify(state),
      phase: state.phase,
      created_at: now,
      updated_at: now,
      created_by: spec.by,
    })
    .execute();
  await insertRolloutSites(
    tx,
    profileRollouts,
    rows.map((r) => ({
      rollout_id: id,
      site_id: r.siteId,
      wave: r.wave,
      status: 'Waiting',
      started_at: null,
      reason: null,
      from_revision: given.get(r.siteId) ?? spec.from,
    })),
  );
  events.push({
    type: 'rollout_started',
    message: `profile rollout ${id} of ${spec.profile} r${spec.from} → r${spec.to} in ${state.waves.length} waves (${state.waves.join(', ')})`,
    details: { rollout: id, profile: spec.profile, from: spec.from, to: spec.to },
  });
  await insertEvents(ctx, tx, events);
  return id;
}

/** Ends the profile's rollouts that are not over yet as Superseded, with an event for each. */
async function supersede(ctx: HubContext, tx: Db, profile: string, reason: string): Promise<NewEvent[]> {
  const rows = await tx
    .selectFrom('profile_rollouts')
    .select(['id', 'state'])
    .where('profile', '=', profile)
    .where('phase', 'not in', [...finalPhases])
    .execute();
  const running = await markSuperseded(tx, profileRollouts, rows, reason, ctx.now().toISOString());
  return running.map((r) => ({
    type: 'rollout_superseded',
    message: `profile rollout ${r.id} of ${profile} superseded: ${reason}`,
    details: { rollout: r.id, profile },
  }));
}

/** Decides every profile rollout not over yet once (Succeeded ones still bring returning sites up). */
export async function tickProfileRollouts(ctx: HubContext): Promise<void> {
  for (const r of await rolloutsToStep(ctx.store.db, profileRollouts)) await tickProfileRollout(ctx, r.id);
}

/**
 * One decision for one profile rollout, committed with its row transitions (compare-and-set, as a bundle
 * rollout's) and events; the sites it starts are then given the new revision. A site that fails is
 * marked with its Behind layer, nodes and why.
 */
export async function tickProfileRollout(ctx: HubContext, id: string): Promise<void> {
  const outcome = await ctx.store.db.transaction().execute(async (tx) => {
    const r = await rolloutToStep(tx, profileRollouts, id);
    if (!r) return;
    const revision = await tx
      .selectFrom('profile_revisions')
      .select('spec')
      .where('profile', '=', r.profile)
      .where('revision', '=', r.to_revision)
      .executeTakeFirst();
    // a profile deleted with its revisions holds no site any more
    if (!revision) {
      await insertEvents(ctx, tx, await supersede(ctx, tx, r.profile, 'the profile is gone'));
      return;
    }
    const state = JSON.parse(r.state) as RolloutState;
    const strategy = JSON.parse(r.strategy) as RolloutStrategy;
    const { sites, names, reasons } = await loadProgress(ctx, tx, r, JSON.parse(revision.spec));
    const decision = decide({ strategy, state, sites, now: ctx.now() });
    const failedWhy = (t: SiteTransition) =>
      t.to === 'Failed' ? (reasons.get(t.siteId) ?? t.reason) : t.reason;
    if (!(await writeDecision(tx, profileRollouts, r, decision, ctx.now().toISOString(), failedWhy))) return;
    const events: NewEvent[] = decision.events.map((e) => {
      const site = e.siteId !== undefined ? (names.get(e.siteId) ?? e.siteId) : undefined;
      const why = e.type === 'SiteFailed' && e.siteId !== undefined ? reasons.get(e.siteId) : undefined;
      return {
        type: rolloutEventType(e.type),
        ...(site !== undefined ? { site } : {}),
        message: `profile rollout ${id} of ${r.profile}: ${why ? `${site} failed: ${why}` : e.message}`,
        details: {
          rollout: id,
          profile: r.profile,
          kind: e.type,
          ...(e.wave !== undefined ? { wave: e.wave } : {}),
        },
      };
    });
    await insertEvents(ctx, tx, events);
    return { start: decision.start, events: events.length };
  });
  if (outcome?.events) ctx.events.notify();
  if (outcome && outcome.start.length > 0) await targetProfiles(ctx, outcome.start);
}

/**
 * A profile rollout's rows as rollout/core reads them: each started site's conformance to the new
 * revision (since it was started) as its deployment state, and for a Behind one the reason to mark it with.
 */
async function loadProgress(
  ctx: HubContext,
  tx: Db,
  r: ProfileRolloutTable,
  spec: ProfileSpec,
): Promise<{ sites: SiteProgress[]; names: Map<string, string>; reasons: Map<string, string> }> {
  const rows = await tx
    .selectFrom('profile_rollout_sites')
    .innerJoin('sites', 'sites.id', 'profile_rollout_sites.site_id')
    .leftJoin('profile_targets', 'profile_targets.site_id', 'profile_rollout_sites.site_id')
    .select([
      'profile_rollout_sites.site_id',
      'profile_rollout_sites.wave',
      'profile_rollout_sites.status',
      'profile_rollout_sites.started_at',
      'profile_rollout_sites.reason',
      'sites.name',
      'sites.connectivity',
      'sites.properties',
      'profile_targets.profile',
      'profile_targets.revision',
      'profile_targets.since',
    ])
    .where('profile_rollout_sites.rollout_id', '=', r.id)
    .execute();
  // a state counts only once the site is given the new revision, judged from when it was
  const onTarget = rows.filter(
    (row) => row.profile === r.profile && Number(row.revision) === Number(r.to_revision) && row.since,
  );
  const judged = await judgeSites(
    ctx,
    tx,
    spec,
    onTarget.map((row) => ({ id: row.site_id, since: new Date(row.since!) })),
  );
  const reasons = new Map<string, string>();
  const sites: SiteProgress[] = rows.map((row) => {
    const conformance = judged.get(row.site_id);
    const why = conformance && behindReason(conformance);
    if (why) reasons.set(row.site_id, why);
    return {
      ...siteProgressOf(row),
      ...(conformance ? { deploymentState: progressStateOf(conformance) } : {}),
    };
  });
  return { sites, names: new Map(rows.map((row) => [row.site_id, row.name])), reasons };
}

/** Operator actions a profile rollout takes: all of a bundle rollout's but rollback. */
export async function queueProfileRolloutAction(
  ctx: HubContext,
  actor: Actor,
  id: string,
  request: RolloutActionRequest,
): Promise<void> {
  if (request.action === 'rollback')
    throw new OutpostError(
      'conflict',
      `profile rollout ${id} does not roll back: Kubernetes cannot go back a minor; pause it, or apply a revision that fixes the sites`,
    );
  await queueRolloutAction(ctx, profileRollouts, actor, id, request);
}

function rolloutView(r: ProfileRolloutTable): ProfileRolloutView {
  return { ...rolloutHead(r), profile: r.profile };
}

/** Profile rollouts, newest first; only the profile's when given. */
export async function listProfileRollouts(ctx: HubContext, profile?: string): Promise<ProfileRolloutView[]> {
  return (await rolloutRows(ctx.store.db, profileRollouts, profile)).map(rolloutView);
}

export async function profileRolloutDetail(ctx: HubContext, id: string): Promise<ProfileRolloutDetail> {
  const r = await rolloutRow(ctx.store.db, profileRollouts, id);
  const state = JSON.parse(r.state) as RolloutState;
  const { waves, failed } = await rolloutWaves(ctx.store.db, profileRollouts, id, state);
  return {
    ...rolloutView(r),
    waves,
    failures: state.failures,
    failed,
    pendingActions: state.actions.map((a) => a.type),
    strategy: JSON.parse(r.strategy) as Record<string, unknown>,
  };
}
