// Both kinds of rollout in the store, a bundle's (rollouts, rollout_sites) and a profile's (profile_rollouts,
// profile_rollout_sites): one set of reads and writes keyed by the kind, as rollout/core decides on both alike.

import { OutpostError } from '../../model/errors.ts';
import type { Connectivity } from '../../model/site.ts';
import type { RolloutActionRequest } from '../../model/wire.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import type { Database, Db, RolloutSiteTable, SiteTable } from '../store/schema.ts';
import type { Decision } from './core/decide.ts';
import {
  finalPhases,
  type RolloutState,
  type SiteProgress,
  type SiteStatus,
  type SiteTransition,
} from './core/state.ts';

/** A bundle's rollouts: their sites keep a gate baseline. */
export const bundleRollouts = {
  table: 'rollouts',
  sites: 'rollout_sites',
  subject: 'bundle',
  noun: 'rollout',
  /** what the audit log names it */
  audited: 'rollout',
  keepsBaselines: true,
} as const;

/** A profile's rollouts: no gates, so no baseline. */
export const profileRollouts = {
  table: 'profile_rollouts',
  sites: 'profile_rollout_sites',
  subject: 'profile',
  noun: 'profile rollout',
  audited: 'profile-rollout',
  keepsBaselines: false,
} as const;

export type RolloutKind = typeof bundleRollouts | typeof profileRollouts;
type RowOf<K extends RolloutKind> = Database[K['table']];
type SiteRowOf<K extends RolloutKind> = Database[K['sites']];

/** The rollout's row; not_found when there is none. */
export async function rolloutRow<K extends RolloutKind>(db: Db, kind: K, id: string): Promise<RowOf<K>> {
  const r = await db.selectFrom(kind.table).selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) throw new OutpostError('not_found', `no ${kind.noun} ${id}`);
  return r as RowOf<K>;
}

/** The rollout a step decides on: none when it is gone or over. */
export async function rolloutToStep<K extends RolloutKind>(
  db: Db,
  kind: K,
  id: string,
): Promise<RowOf<K> | undefined> {
  const r = await db.selectFrom(kind.table).selectAll().where('id', '=', id).executeTakeFirst();
  return r && !isOver(r.phase) ? (r as RowOf<K>) : undefined;
}

/** The kind's rollouts not over yet, oldest first (Succeeded ones still bring returning sites up). */
export async function rolloutsToStep<K extends RolloutKind>(db: Db, kind: K): Promise<RowOf<K>[]> {
  return (await db
    .selectFrom(kind.table)
    .selectAll()
    .where('phase', 'not in', [...finalPhases])
    .orderBy('id')
    .execute()) as RowOf<K>[];
}

function isOver(phase: string): boolean {
  return (finalPhases as readonly string[]).includes(phase);
}

/** The kind's rollouts, newest first; only the named bundle's or profile's when given. */
export async function rolloutRows<K extends RolloutKind>(
  db: Db,
  kind: K,
  subject?: string,
): Promise<RowOf<K>[]> {
  let q = db.selectFrom(kind.table).selectAll().orderBy('id', 'desc');
  if (subject !== undefined) q = q.where(kind.subject, '=', subject);
  return (await q.execute()) as RowOf<K>[];
}

/** Stores a new rollout's sites, in chunks: a rollout may hold a whole fleet. */
export async function insertRolloutSites<K extends RolloutKind>(
  tx: Db,
  kind: K,
  sites: SiteRowOf<K>[],
): Promise<void> {
  for (let i = 0; i < sites.length; i += 500) {
    await tx
      .insertInto(kind.sites)
      .values(sites.slice(i, i + 500))
      .execute();
  }
}

/**
 * Ends the rollouts read as Superseded with the reason. Returns those that were still moving sites (not
 * Succeeded, Failed or Aborted): the caller's events say they were superseded.
 */
export async function markSuperseded<R extends { id: string; state: string }>(
  tx: Db,
  kind: RolloutKind,
  rows: R[],
  reason: string,
  now: string,
): Promise<R[]> {
  const ended: readonly string[] = ['Succeeded', 'Failed', 'Aborted'];
  const running: R[] = [];
  for (const r of rows) {
    const state = JSON.parse(r.state) as RolloutState;
    await tx
      .updateTable(kind.table)
      .set({
        phase: 'Superseded',
        state: JSON.stringify({ ...state, phase: 'Superseded', reason }),
        updated_at: now,
      })
      .where('id', '=', r.id)
      .execute();
    if (!ended.includes(state.phase)) running.push(r);
  }
  return running;
}

/**
 * Writes a decision on the rollout read as `r`: its state compare-and-set on the state read, then each
 * site's transition compare-and-set on its `from` status, marked with `reasonOf` when it gives one. False
 * when nothing was written: the decision changed nothing, or a racing step wrote first (so no site is
 * started twice).
 */
export async function writeDecision(
  tx: Db,
  kind: RolloutKind,
  r: { id: string; state: string },
  decision: Pick<Decision, 'state' | 'transitions'>,
  now: string,
  reasonOf: (t: SiteTransition) => string | undefined = (t) => t.reason,
): Promise<boolean> {
  const next = JSON.stringify(decision.state);
  if (next === r.state && decision.transitions.length === 0) return false;
  const written = await tx
    .updateTable(kind.table)
    .set({ state: next, phase: decision.state.phase, updated_at: now })
    .where('id', '=', r.id)
    .where('state', '=', r.state)
    .executeTakeFirst();
  if (Number(written.numUpdatedRows) === 0) return false;
  for (const t of decision.transitions) {
    await tx
      .updateTable(kind.sites)
      .set({
        status: t.to,
        reason: reasonOf(t) ?? null,
        ...(t.startedAt !== undefined ? { started_at: t.startedAt } : {}),
        ...(kind.keepsBaselines && t.baseline !== undefined ? { baseline: JSON.stringify(t.baseline) } : {}),
      })
      .where('rollout_id', '=', r.id)
      .where('site_id', '=', t.siteId)
      .where('status', '=', t.from)
      .execute();
  }
  return true;
}

/**
 * Queues an operator action for the rollout's next step and audits who asked: refused once the rollout is
 * over, and while it waits Queued (it takes actions once it starts).
 */
export async function queueRolloutAction(
  ctx: HubContext,
  kind: RolloutKind,
  actor: Actor,
  id: string,
  { action, reason }: RolloutActionRequest,
): Promise<void> {
  await ctx.store.db.transaction().execute(async (tx) => {
    const r = await rolloutRow(tx, kind, id);
    const state = JSON.parse(r.state) as RolloutState;
    if (isOver(r.phase))
      throw new OutpostError('conflict', `${kind.noun} ${id} is ${r.phase}: it takes no more actions`);
    if (r.phase === 'Queued')
      throw new OutpostError(
        'conflict',
        `${kind.noun} ${id} is Queued (${state.reason ?? 'waiting'}): it takes actions once it starts; start it now with supersede`,
      );
    state.actions.push({ type: action, by: actor.name, ...(reason ? { reason } : {}) });
    await tx
      .updateTable(kind.table)
      .set({ state: JSON.stringify(state), updated_at: ctx.now().toISOString() })
      .where('id', '=', id)
      .where('state', '=', r.state)
      .execute();
    const subject = 'bundle' in r ? { bundle: r.bundle } : { profile: r.profile };
    await audit(tx, ctx.now(), actor, `${kind.audited}.${action}`, `${kind.audited}/${id}`, {
      ...subject,
      ...(reason ? { reason } : {}),
    });
  });
}

/** The columns both kinds of rollout share, as the API shows them. */
type RolloutHeadRow = Pick<
  Database['rollouts'],
  'id' | 'from_revision' | 'to_revision' | 'phase' | 'state' | 'created_at' | 'updated_at' | 'created_by'
>;

/** A rollout's head as the API shows it, whichever kind of revision it moves. */
export function rolloutHead(r: RolloutHeadRow) {
  const state = JSON.parse(r.state) as RolloutState;
  return {
    id: r.id,
    fromRevision: Number(r.from_revision),
    toRevision: Number(r.to_revision),
    phase: r.phase,
    wave: state.waves[state.wave] ?? '',
    ...(state.reason ? { reason: state.reason } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    createdBy: r.created_by,
  };
}

/**
 * The rollout's sites as its view counts them: every wave in order with its sites counted by status, the
 * sites marked Failed (by name, with why), and those not started (or skipped) because they are offline.
 */
export async function rolloutWaves(db: Db, kind: RolloutKind, id: string, state: RolloutState) {
  const rows = await db
    .selectFrom(kind.sites)
    .innerJoin('sites', 'sites.id', `${kind.sites}.site_id`)
    .select([
      `${kind.sites}.wave`,
      `${kind.sites}.status`,
      `${kind.sites}.reason`,
      'sites.name',
      'sites.connectivity',
    ])
    .where(`${kind.sites}.rollout_id`, '=', id)
    .orderBy('sites.name')
    .execute();
  const waves = state.waves.map((name) => ({ name, sites: 0, statuses: {} as Record<string, number> }));
  const failed: { site: string; wave: string; reason: string }[] = [];
  let waitingOffline = 0;
  for (const row of rows) {
    const w = waves[Number(row.wave)];
    if (w) {
      w.sites++;
      w.statuses[row.status] = (w.statuses[row.status] ?? 0) + 1;
    }
    if (row.status === 'Failed')
      failed.push({ site: row.name, wave: w?.name ?? '', reason: row.reason ?? '' });
    const away = row.connectivity === 'Offline' || row.connectivity === 'Expired';
    if (away && (row.status === 'Waiting' || row.status === 'Skipped')) waitingOffline++;
  }
  return { waves, failed, waitingOffline };
}

/** The columns of a rollout's site row, and its site's facts, that both kinds of rollout read alike. */
type RolloutSiteFacts = Pick<RolloutSiteTable, 'site_id' | 'wave' | 'status' | 'started_at' | 'reason'> &
  Pick<SiteTable, 'name' | 'connectivity' | 'properties'>;

/**
 * A rollout's site as the pure core reads it, but for what its kind adds (the state of what it was given,
 * gate metrics). Maintenance windows are read in site-local time: the site's timezone property.
 */
export function siteProgressOf(row: RolloutSiteFacts): SiteProgress {
  const tz = (JSON.parse(row.properties) as { timezone?: unknown }).timezone;
  return {
    siteId: row.site_id,
    wave: Number(row.wave),
    status: row.status as SiteStatus,
    ...(row.started_at ? { startedAt: row.started_at } : {}),
    ...(row.reason ? { reason: row.reason } : {}),
    name: row.name,
    connectivity: row.connectivity as Connectivity,
    ...(typeof tz === 'string' && tz !== '' ? { timeZone: tz } : {}),
  };
}
