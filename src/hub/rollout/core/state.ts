// The persisted shape of a rollout: one RolloutState and one row per site. Everything decide needs lives
// here or in the facts the hub already has, so a restarted hub carries on exactly where it stopped.

import type { DeploymentState } from '../../../model/deployment.ts';
import type { RolloutStrategy } from '../../../model/rollout-strategy.ts';
import type { Connectivity } from '../../../model/site.ts';
import { assignWaves, type WaveSite } from './waves.ts';

export type RolloutPhase =
  /** waiting for the bundle's running rollout to end; decide never sees it */
  | 'Queued'
  | 'Progressing'
  | 'Baking'
  | 'AwaitingApproval'
  | 'Paused'
  | 'RollingBack'
  | 'Succeeded'
  | 'Failed'
  | 'Aborted'
  | 'Superseded';

/** Phases decide never leaves. Succeeded is not among them: it still brings returning sites up to date. */
export const finalPhases: readonly RolloutPhase[] = ['Failed', 'Aborted', 'Superseded'];

export type OperatorActionType =
  | 'pause'
  | 'resume'
  | 'promote'
  | 'approve'
  | 'abort'
  | 'rollback'
  | 'retryFailed';

/**
 * An operator command, queued in the state and consumed by the next decide:
 * pause; resume (accepting failures beyond the budget so far); promote (end the current wave now: skip
 * its bake, approval or missing evidence; its unfinished sites stay queued); approve (start the next wave
 * under manual approval); abort (stop, leaving every site as it is); rollback (send every site that got
 * the new revision back to the old one); retryFailed (failed sites go back to Waiting).
 */
export interface OperatorAction {
  type: OperatorActionType;
  /** who asked, for events */
  by?: string;
  reason?: string;
}

export interface RolloutState {
  phase: RolloutPhase;
  /** wave names, fixed when the rollout is planned; rows refer to them by index */
  waves: string[];
  /** index of the current wave */
  wave: number;
  /** ISO time the current wave became healthy; its bake runs from here */
  waveHealthySince?: string;
  /** ISO time the gates started answering no-data while the wave waited on them */
  noDataSince?: string;
  /** why the rollout is paused, stalled, rolling back or finished that way */
  reason?: string;
  /** failed sites now (a count of rows, kept for display) */
  failures: number;
  /** failures an operator accepted by resuming past the budget; only failures beyond these count */
  acceptedFailures: number;
  rollbackCause?: 'failure' | 'operator';
  /** operator commands not yet processed, oldest first */
  actions: OperatorAction[];
}

export type SiteStatus = 'Waiting' | 'Updating' | 'Updated' | 'Failed' | 'RolledBack' | 'Skipped';

/** What the controller persists per site and rollout. */
export interface SiteRow {
  siteId: string;
  /** index into RolloutState.waves */
  wave: number;
  status: SiteStatus;
  /**
   * ISO time the site was last given the new revision (or its update resumed). Set means the site's
   * desired revision is the new one, until it is RolledBack.
   */
  startedAt?: string;
  /** the site's metrics just before it was given the new revision: the baseline for gate comparisons */
  baseline?: Record<string, number>;
  /** why the site is Failed or Skipped */
  reason?: string;
}

/** What the hub knows about the site now, joined to its row for each decision. */
export interface SiteFacts {
  name: string;
  connectivity: Connectivity;
  /** the site's deployment state for the NEW revision; undefined until it reports on that revision */
  deploymentState?: DeploymentState;
  /** IANA zone for maintenance windows */
  timeZone?: string;
  /** latest gate metrics, measured on the revision the site runs now (only since startedAt once started) */
  metrics?: Record<string, number>;
}

export interface SiteProgress extends SiteRow, SiteFacts {}

/**
 * One row change. `from` lets the controller write it as a compare-and-set, so a decision computed from
 * stale rows cannot overwrite a newer one. Fields left undefined are unchanged, except `reason`, which is
 * replaced.
 */
export interface SiteTransition {
  siteId: string;
  from: SiteStatus;
  to: SiteStatus;
  startedAt?: string;
  baseline?: Record<string, number>;
  reason?: string;
}

/**
 * A new rollout: waves assigned, every site Waiting, the first wave current.
 *
 * @example
 * const { state, rows } = planRollout(strategy, [{ id: 's1', name: 'store-1', labels: {} }]);
 * state.phase; // 'Progressing'
 * rows; // [{ siteId: 's1', wave: 0, status: 'Waiting' }]
 */
export function planRollout(
  strategy: Pick<RolloutStrategy, 'waves'>,
  sites: readonly WaveSite[],
): { state: RolloutState; rows: SiteRow[]; unknownSites: string[] } {
  const { waves, unknownSites } = assignWaves(strategy, sites);
  const rows: SiteRow[] = [];
  waves.forEach((w, wave) => {
    for (const siteId of w.siteIds) rows.push({ siteId, wave, status: 'Waiting' });
  });
  const state: RolloutState = {
    phase: 'Progressing',
    waves: waves.map((w) => w.name),
    wave: 0,
    failures: 0,
    acceptedFailures: 0,
    actions: [],
  };
  return { state, rows, unknownSites };
}

/**
 * Applies transitions to rows the way the store should: only where the row still has the `from` status.
 *
 * @example
 * applyTransitions([{ siteId: 's1', wave: 0, status: 'Waiting' }], [
 *   { siteId: 's1', from: 'Waiting', to: 'Updating', startedAt: '2026-05-01T00:00:00.000Z' },
 * ]); // [{ siteId: 's1', wave: 0, status: 'Updating', startedAt: '2026-05-01T00:00:00.000Z' }]
 */
export function applyTransitions<T extends SiteRow>(
  rows: readonly T[],
  transitions: readonly SiteTransition[],
): T[] {
  const byId = new Map(transitions.map((t) => [t.siteId, t]));
  return rows.map((row) => {
    const t = byId.get(row.siteId);
    if (!t || t.from !== row.status) return row;
    const next: T = { ...row, status: t.to };
    if (t.startedAt !== undefined) next.startedAt = t.startedAt;
    if (t.baseline !== undefined) next.baseline = t.baseline;
    if (t.reason !== undefined) next.reason = t.reason;
    else delete next.reason;
    return next;
  });
}
