// The rollout state machine as one pure function: given the strategy, the persisted state, every site's
// row and facts, and the time, it returns the next state and what to do to which sites. No I/O, no clock.

import type { RolloutStrategy } from '../../../model/rollout-strategy.ts';
import { combineGates, evaluateGate, type GateResult } from './gates.ts';
import {
  finalPhases,
  type OperatorAction,
  type RolloutPhase,
  type RolloutState,
  type SiteProgress,
  type SiteStatus,
  type SiteTransition,
} from './state.ts';
import { concurrencyLimit, failureBudget } from './strategy.ts';
import { inWindow, timeZoneProblem } from './windows.ts';

export interface DecideInput {
  strategy: RolloutStrategy;
  state: RolloutState;
  sites: readonly SiteProgress[];
  now: Date;
}

export type RolloutEventType =
  | 'SitesStarted'
  | 'SitesUpdated'
  | 'SiteResumed'
  | 'SiteRegressed'
  | 'SiteFailed'
  | 'SiteSkipped'
  | 'SitesRetried'
  | 'WaveHealthy'
  | 'WaveUnhealthy'
  | 'WaveStalled'
  | 'WaveCompleted'
  | 'WaveStarted'
  | 'AwaitingApproval'
  | 'GateNoData'
  | 'RolloutPaused'
  | 'RolloutResumed'
  | 'RollingBack'
  | 'RollbackIssued'
  | 'RolloutSucceeded'
  | 'RolloutFailed'
  | 'RolloutAborted'
  | 'ActionIgnored';

export interface RolloutEvent {
  type: RolloutEventType;
  message: string;
  siteId?: string;
  wave?: number;
}

export interface Decision {
  state: RolloutState;
  /** sites whose desired revision becomes the new one now */
  start: string[];
  /** sites whose desired revision goes back to the old one */
  rollback: string[];
  /** sites that failed in this decision (their transitions carry the same reason) */
  markFailed: { siteId: string; reason: string }[];
  /** every row change, to persist as compare-and-set on `from` */
  transitions: SiteTransition[];
  events: RolloutEvent[];
}

interface Row {
  site: SiteProgress;
  wave: number;
  status: SiteStatus;
  startedAt: string | undefined;
  baseline: Record<string, number> | undefined;
  reason: string | undefined;
}

interface Ctx {
  strategy: RolloutStrategy;
  now: number;
  at: string;
  lastWave: number;
  cap: number;
  budget: number;
  state: RolloutState;
  rows: Row[];
  start: string[];
  rollback: string[];
  markFailed: { siteId: string; reason: string }[];
  events: RolloutEvent[];
}

const ACTIVE: readonly string[] = ['Progressing', 'Baking', 'AwaitingApproval'];

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isOffline(site: SiteProgress): boolean {
  return site.connectivity === 'Offline' || site.connectivity === 'Expired';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function waveLabel(ctx: Ctx, wave: number): string {
  return `wave ${wave + 1}/${ctx.state.waves.length} "${ctx.state.waves[wave] ?? '?'}"`;
}

function emit(
  ctx: Ctx,
  type: RolloutEventType,
  message: string,
  extra: { siteId?: string; wave?: number } = {},
): void {
  ctx.events.push({ type, message, ...extra });
}

function failedCount(ctx: Ctx): number {
  return ctx.rows.filter((r) => r.status === 'Failed').length;
}

function fail(ctx: Ctx, row: Row, reason: string): void {
  row.status = 'Failed';
  row.reason = reason;
  ctx.markFailed.push({ siteId: row.site.siteId, reason });
  emit(ctx, 'SiteFailed', `${row.site.name} failed: ${reason}`, { siteId: row.site.siteId, wave: row.wave });
}

function skip(ctx: Ctx, row: Row, reason: string): void {
  row.status = 'Skipped';
  row.reason = reason;
  emit(ctx, 'SiteSkipped', `${row.site.name} set aside: ${reason}`, {
    siteId: row.site.siteId,
    wave: row.wave,
  });
}

// ---- operator actions ----------------------------------------------------------------------------------

function who(action: OperatorAction): string {
  return `${action.by ?? 'an operator'}${action.reason ? `: ${action.reason}` : ''}`;
}

/** Why an action does not apply in the rollout's current phase, or undefined when it does. */
function refusal(ctx: Ctx, action: OperatorAction): string | undefined {
  const phase = ctx.state.phase;
  const open = !finalPhases.includes(phase) && phase !== 'RollingBack';
  switch (action.type) {
    case 'pause':
      return ACTIVE.includes(phase) ? undefined : `the rollout is ${phase}`;
    case 'resume':
      return phase === 'Paused' ? undefined : `the rollout is ${phase}, not Paused`;
    case 'approve':
      return phase === 'AwaitingApproval' ? undefined : `the rollout is ${phase}, not awaiting approval`;
    case 'promote':
      if (!ACTIVE.includes(phase)) return `the rollout is ${phase}`;
      // Succeeded must mean nothing is left to do, so the last wave can skip its bake, not its sites.
      return ctx.state.wave >= ctx.lastWave && hasPending(ctx)
        ? 'the last wave still has sites to update'
        : undefined;
    case 'abort':
    case 'rollback':
      return open && phase !== 'Succeeded' ? undefined : `the rollout is ${phase}`;
    case 'retryFailed':
      if (!open) return `the rollout is ${phase}`;
      return ctx.rows.some((r) => r.status === 'Failed') ? undefined : 'no site has failed';
  }
}

function applyAction(ctx: Ctx, action: OperatorAction): void {
  const why = refusal(ctx, action);
  if (why) {
    emit(ctx, 'ActionIgnored', `${action.type} from ${action.by ?? 'an operator'} ignored: ${why}`);
    return;
  }
  const s = ctx.state;
  switch (action.type) {
    case 'pause':
      // An operator pause keeps the bake clock: resuming a healthy wave carries on where it was.
      s.phase = 'Paused';
      s.reason = `paused by ${who(action)}`;
      emit(ctx, 'RolloutPaused', s.reason);
      break;
    case 'resume': {
      const excess = failedCount(ctx) - s.acceptedFailures - ctx.budget;
      if (excess > 0) s.acceptedFailures += excess;
      s.phase = 'Progressing';
      s.reason = undefined;
      s.noDataSince = undefined;
      const accepted = excess > 0 ? `; ${plural(excess, 'failure')} beyond the budget accepted` : '';
      emit(ctx, 'RolloutResumed', `resumed by ${who(action)}${accepted}`);
      break;
    }
    case 'approve':
      nextWave(ctx, `approved by ${who(action)}`);
      break;
    case 'promote':
      emit(ctx, 'WaveCompleted', `${waveLabel(ctx, s.wave)} promoted by ${who(action)}`, { wave: s.wave });
      if (s.wave >= ctx.lastWave) succeed(ctx);
      else nextWave(ctx);
      break;
    case 'abort':
      s.phase = 'Aborted';
      s.reason = `aborted by ${who(action)}`;
      emit(ctx, 'RolloutAborted', `${s.reason}; sites keep the revision they have`);
      break;
    case 'rollback':
      s.phase = 'RollingBack';
      s.rollbackCause = 'operator';
      s.reason = `rollback requested by ${who(action)}`;
      emit(ctx, 'RollingBack', s.reason);
      break;
    case 'retryFailed': {
      const failed = ctx.rows.filter((r) => r.status === 'Failed');
      for (const r of failed) {
        r.status = 'Waiting';
        r.reason = undefined;
      }
      s.acceptedFailures = 0;
      emit(ctx, 'SitesRetried', `${plural(failed.length, 'failed site')} queued again by ${who(action)}`);
      break;
    }
  }
}

// ---- what the sites' reports mean --------------------------------------------------------------------------

function observeSites(ctx: Ctx): void {
  const s = ctx.state;
  const succeeded = s.phase === 'Succeeded';
  const deadlineMs = ctx.strategy.progressDeadlineSeconds * 1000;
  const windowed = ctx.strategy.windows.length > 0 && !ctx.strategy.emergency;
  const updated = new Map<number, number>();
  for (const row of ctx.rows) {
    const { site } = row;
    const offline = isOffline(site);
    const ds = site.deploymentState;
    switch (row.status) {
      case 'Updating': {
        if (offline) {
          skip(ctx, row, `went ${site.connectivity} while updating; not counted as a failure`);
        } else if (ds === 'Ready') {
          row.status = 'Updated';
          row.reason = undefined;
          updated.set(row.wave, (updated.get(row.wave) ?? 0) + 1);
        } else if (ds === 'Failed') {
          fail(ctx, row, 'the site reported its deployment Failed');
        } else {
          const started = row.startedAt === undefined ? Number.NaN : Date.parse(row.startedAt);
          if (Number.isNaN(started)) row.startedAt = ctx.at;
          // Only an Online site can be late: a Stale one may simply not have been heard from yet.
          else if (site.connectivity === 'Online' && ctx.now - started >= deadlineMs) {
            fail(
              ctx,
              row,
              `not Ready within ${ctx.strategy.progressDeadlineSeconds} s (state ${ds ?? 'not reported'})`,
            );
          }
        }
        break;
      }
      case 'Updated':
        if (succeeded || offline || ds === undefined || ds === 'Ready') break;
        if (ds === 'Failed') fail(ctx, row, 'the site reported its deployment Failed after it was Ready');
        else {
          // Back to Updating, so the progress deadline bounds how long the wave waits for it.
          row.status = 'Updating';
          row.startedAt = ctx.at;
          emit(ctx, 'SiteRegressed', `${site.name} is ${ds} again after being Ready`, {
            siteId: site.siteId,
            wave: row.wave,
          });
        }
        break;
      case 'Skipped':
        if (offline || row.startedAt === undefined) break;
        if (ds === 'Ready') {
          row.status = 'Updated';
          row.reason = undefined;
          updated.set(row.wave, (updated.get(row.wave) ?? 0) + 1);
        } else if (ds === 'Failed')
          fail(ctx, row, 'the site reported its deployment Failed after coming back');
        break;
      case 'Waiting': {
        if (!succeeded && row.wave > s.wave) break;
        if (offline) skip(ctx, row, `${site.connectivity}; it gets the revision when it is back`);
        else if (windowed) {
          const problem = timeZoneProblem(site.timeZone);
          if (problem) skip(ctx, row, problem);
        }
        break;
      }
      default:
        break;
    }
  }
  for (const [wave, n] of [...updated].sort((a, b) => a[0] - b[0])) {
    emit(ctx, 'SitesUpdated', `${plural(n, 'site')} of ${waveLabel(ctx, wave)} Ready on the new revision`, {
      wave,
    });
  }
}

// ---- gates, budget, waves ---------------------------------------------------------------------------------

/** What gate evaluation reads of a row: its site (facts and metrics), status and baseline. */
type GateRow = Pick<Row, 'site' | 'status' | 'baseline'>;

function evaluateGates(strategy: RolloutStrategy, rows: readonly GateRow[]): GateResult[] {
  const updated = rows.filter((r) => r.status === 'Updated');
  // the control group: sites that have not started the new revision (or were sent back) and are reachable
  const control = rows.filter(
    (r) =>
      (r.status === 'Waiting' || r.status === 'Skipped' || r.status === 'RolledBack') &&
      r.site.connectivity === 'Online',
  );
  return strategy.gates.map((gate) =>
    evaluateGate(
      gate,
      updated.map((r) => ({ siteId: r.site.siteId, value: r.site.metrics?.[gate.metric] })),
      gate.compareToBaseline?.against === 'notUpdated'
        ? control.map((r) => ({ siteId: r.site.siteId, value: r.site.metrics?.[gate.metric] }))
        : updated.map((r) => ({ siteId: r.site.siteId, value: r.baseline?.[gate.metric] })),
    ),
  );
}

/**
 * The strategy's gates evaluated now over the sites as they are stored (each one's status, baseline and
 * metrics), in the strategy's order: what `decide` would judge the gates on, for views. Unlike `decide`
 * it observes nothing first, so a site that turned Ready since the last decision is not counted until
 * the controller marks it Updated.
 *
 * @example
 * // strategy.gates = [{ metric: 'error_rate', op: '<', threshold: 0.05 }]
 * gateResults(strategy, [{ ...row, status: 'Updated', metrics: { error_rate: 0.2 } }])[0].result; // 'fail'
 */
export function gateResults(strategy: RolloutStrategy, sites: readonly SiteProgress[]): GateResult[] {
  return evaluateGates(
    strategy,
    sites.map((site) => ({ site, status: site.status, baseline: site.baseline })),
  );
}

function failing(results: readonly GateResult[]): string {
  return results
    .filter((r) => r.result === 'fail')
    .map((r) => `gate "${r.gate}" failed: ${r.reason}`)
    .join('; ');
}

/** pass, fail or wait for the gates a settled wave needs, with the no-data policy applied. */
function gateVerdict(
  ctx: Ctx,
  results: readonly GateResult[],
): { verdict: 'pass' | 'fail' | 'wait'; reason: string } {
  const s = ctx.state;
  const combined = combineGates(results);
  if (combined !== 'no-data') {
    s.noDataSince = undefined;
    return { verdict: combined, reason: combined === 'fail' ? failing(results) : '' };
  }
  const missing = results
    .filter((r) => r.result === 'no-data')
    .map((r) => `gate "${r.gate}": ${r.reason}`)
    .join('; ');
  const { policy, maxWaitSeconds } = ctx.strategy.noData;
  if (policy === 'pass') return { verdict: 'pass', reason: `no data, passed by policy (${missing})` };
  if (policy === 'fail') return { verdict: 'fail', reason: `no data, failed by policy (${missing})` };
  if (s.noDataSince === undefined) {
    s.noDataSince = ctx.at;
    emit(ctx, 'GateNoData', `waiting up to ${maxWaitSeconds} s for data: ${missing}`, { wave: s.wave });
  }
  if (ctx.now - Date.parse(s.noDataSince) >= maxWaitSeconds * 1000) {
    return { verdict: 'fail', reason: `no data for ${maxWaitSeconds} s (${missing})` };
  }
  return { verdict: 'wait', reason: missing };
}

function overBudget(ctx: Ctx): string | undefined {
  const counted = failedCount(ctx) - ctx.state.acceptedFailures;
  if (counted <= ctx.budget) return undefined;
  return `${plural(counted, 'site')} failed, more than the ${ctx.budget} the failure budget allows`;
}

function onFailure(ctx: Ctx, reason: string): void {
  const s = ctx.state;
  s.reason = reason;
  s.waveHealthySince = undefined;
  s.noDataSince = undefined;
  if (ctx.strategy.onFailure === 'rollback') {
    s.phase = 'RollingBack';
    s.rollbackCause = 'failure';
    emit(ctx, 'RollingBack', `rolling back: ${reason}`, { wave: s.wave });
  } else {
    s.phase = 'Paused';
    emit(ctx, 'RolloutPaused', `paused: ${reason}`, { wave: s.wave });
  }
}

function nextWave(ctx: Ctx, why?: string): void {
  const s = ctx.state;
  s.wave += 1;
  s.phase = 'Progressing';
  s.reason = undefined;
  s.waveHealthySince = undefined;
  s.noDataSince = undefined;
  emit(ctx, 'WaveStarted', `${waveLabel(ctx, s.wave)} started${why ? `, ${why}` : ''}`, { wave: s.wave });
}

function succeed(ctx: Ctx): void {
  const s = ctx.state;
  const failed = failedCount(ctx);
  s.phase = 'Succeeded';
  s.waveHealthySince = undefined;
  s.noDataSince = undefined;
  s.reason =
    failed > 0 ? `succeeded with ${plural(failed, 'failed site')}, within the failure budget` : undefined;
  emit(
    ctx,
    'RolloutSucceeded',
    s.reason ?? (ctx.rows.length === 0 ? 'no site to update' : 'every wave updated and baked'),
  );
}

/** Whether the current wave still has sites to do; the last wave also counts stragglers from earlier ones. */
function hasPending(ctx: Ctx): boolean {
  const s = ctx.state;
  const holdSkipped = ctx.strategy.offline === 'wait';
  const scope = s.wave >= ctx.lastWave ? ctx.rows : ctx.rows.filter((r) => r.wave === s.wave);
  return scope.some(
    (r) => r.status === 'Waiting' || r.status === 'Updating' || (holdSkipped && r.status === 'Skipped'),
  );
}

/** The wave is settled when none of its sites is still to do and the rollout has at least one updated site. */
function settled(ctx: Ctx): { done: boolean; stall?: string } {
  const s = ctx.state;
  if (hasPending(ctx)) return { done: false };
  // Without a single updated site there is no evidence the revision works; widening then would be blind.
  if (!ctx.rows.some((r) => r.status === 'Updated')) {
    return {
      done: false,
      stall: `waiting for a first site to update: every site of ${waveLabel(ctx, s.wave)} is offline, failed or outside its window; promote to continue without one`,
    };
  }
  return { done: true };
}

function step(ctx: Ctx, gates: readonly GateResult[]): boolean {
  const s = ctx.state;
  const t = ctx.now;
  if (s.phase === 'RollingBack') {
    const targets = ctx.rows.filter((r) => r.startedAt !== undefined && r.status !== 'RolledBack');
    if (targets.length === 0) {
      s.phase = s.rollbackCause === 'operator' ? 'Aborted' : 'Failed';
      emit(ctx, s.phase === 'Failed' ? 'RolloutFailed' : 'RolloutAborted', `rolled back: ${s.reason ?? ''}`);
      return false;
    }
    for (const r of targets) {
      ctx.rollback.push(r.site.siteId);
      r.status = 'RolledBack';
      r.reason = s.reason;
    }
    emit(ctx, 'RollbackIssued', `${plural(targets.length, 'site')} sent back to the previous revision`);
    return false;
  }
  if (!ACTIVE.includes(s.phase)) return false;
  if (ctx.rows.length === 0) {
    succeed(ctx);
    return false;
  }
  const budget = overBudget(ctx);
  if (budget) {
    onFailure(ctx, budget);
    return true;
  }
  if (combineGates(gates) === 'fail') {
    onFailure(ctx, failing(gates));
    return true;
  }
  if (s.phase === 'AwaitingApproval') return false;

  const wave = settled(ctx);
  if (!wave.done) {
    if (s.phase === 'Baking') {
      s.phase = 'Progressing';
      s.waveHealthySince = undefined;
      emit(ctx, 'WaveUnhealthy', `${waveLabel(ctx, s.wave)} is no longer healthy; its bake starts over`, {
        wave: s.wave,
      });
    }
    s.noDataSince = undefined;
    if (wave.stall !== s.reason) {
      s.reason = wave.stall;
      if (wave.stall) emit(ctx, 'WaveStalled', wave.stall, { wave: s.wave });
    }
    return false;
  }
  if (s.reason !== undefined) s.reason = undefined;
  const verdict = gateVerdict(ctx, gates);
  if (verdict.verdict === 'fail') {
    onFailure(ctx, verdict.reason);
    return true;
  }
  if (verdict.verdict === 'wait') return false;
  if (s.phase === 'Progressing') {
    s.phase = 'Baking';
    s.waveHealthySince ??= ctx.at;
    emit(
      ctx,
      'WaveHealthy',
      `${waveLabel(ctx, s.wave)} is healthy; baking for ${ctx.strategy.bakeSeconds} s${verdict.reason ? ` (${verdict.reason})` : ''}`,
      { wave: s.wave },
    );
    return true;
  }
  const since = Date.parse(s.waveHealthySince ?? ctx.at);
  if (t - since < ctx.strategy.bakeSeconds * 1000) return false;
  emit(ctx, 'WaveCompleted', `${waveLabel(ctx, s.wave)} baked for ${ctx.strategy.bakeSeconds} s`, {
    wave: s.wave,
  });
  if (s.wave >= ctx.lastWave) succeed(ctx);
  else if (ctx.strategy.approval === 'manual') {
    s.phase = 'AwaitingApproval';
    s.waveHealthySince = undefined;
    emit(ctx, 'AwaitingApproval', `approve to start ${waveLabel(ctx, s.wave + 1)}`, { wave: s.wave + 1 });
  } else nextWave(ctx);
  return true;
}

// ---- starting sites -------------------------------------------------------------------------------------

/**
 * Starts (or resumes watching) sites while Progressing, within the current and earlier waves, and after
 * success for sites that return. Not in the decision that reaches Succeeded, so that decision reports
 * every site done; returning sites start from the next one.
 */
function startSites(ctx: Ctx, phaseBefore: RolloutPhase): void {
  const s = ctx.state;
  const progressing = s.phase === 'Progressing';
  if (!progressing && !(s.phase === 'Succeeded' && phaseBefore === 'Succeeded')) return;
  let room = ctx.cap - ctx.rows.filter((r) => r.status === 'Updating').length;
  const windowed = ctx.strategy.windows.length > 0 && !ctx.strategy.emergency;
  // Every site in one zone has the same answer at one instant; a fleet has few zones and many sites.
  const openByZone = new Map<string | undefined, boolean>();
  const open = (timeZone: string | undefined): boolean => {
    let answer = openByZone.get(timeZone);
    if (answer === undefined) {
      answer = inWindow(ctx.strategy.windows, timeZone, new Date(ctx.now));
      openByZone.set(timeZone, answer);
    }
    return answer;
  };
  const started = new Map<number, number>();
  for (const row of ctx.rows) {
    if (room <= 0) break;
    if (row.status !== 'Waiting' && row.status !== 'Skipped') continue;
    if (progressing && row.wave > s.wave) continue;
    if (isOffline(row.site)) continue;
    if (row.status === 'Skipped' && row.startedAt !== undefined) {
      // It already has the new revision as desired state; the hub only resumes watching it.
      row.status = 'Updating';
      row.startedAt = ctx.at;
      row.reason = undefined;
      emit(ctx, 'SiteResumed', `${row.site.name} is back; watching its update again`, {
        siteId: row.site.siteId,
        wave: row.wave,
      });
      room -= 1;
      continue;
    }
    if (windowed && !open(row.site.timeZone)) continue;
    // A retried site already runs the new revision: its baseline stays the one from before its first start.
    if (row.startedAt === undefined && row.site.metrics) row.baseline = { ...row.site.metrics };
    row.status = 'Updating';
    row.startedAt = ctx.at;
    row.reason = undefined;
    ctx.start.push(row.site.siteId);
    started.set(row.wave, (started.get(row.wave) ?? 0) + 1);
    room -= 1;
  }
  for (const [wave, n] of [...started].sort((a, b) => a[0] - b[0])) {
    emit(ctx, 'SitesStarted', `${plural(n, 'site')} of ${waveLabel(ctx, wave)} given the new revision`, {
      wave,
    });
  }
}

// ---- the decision --------------------------------------------------------------------------------------------

function transitionsOf(rows: readonly Row[]): SiteTransition[] {
  const out: SiteTransition[] = [];
  for (const row of rows) {
    const before = row.site;
    const startedChanged = row.startedAt !== before.startedAt;
    if (row.status === before.status && !startedChanged && row.reason === before.reason) continue;
    const t: SiteTransition = { siteId: before.siteId, from: before.status, to: row.status };
    if (startedChanged && row.startedAt !== undefined) t.startedAt = row.startedAt;
    if (row.baseline !== before.baseline && row.baseline !== undefined) t.baseline = row.baseline;
    if (row.reason !== undefined) t.reason = row.reason;
    out.push(t);
  }
  return out;
}

/**
 * Decides the next step of a rollout. Call it on every tick and every report; persist `state` and
 * `transitions`, set the desired revision of `start` sites to the new revision and of `rollback` sites
 * to the old one, and record `events`. The same input always gives the same output, and feeding the
 * output back in never starts a site twice.
 *
 * Rules, in order: queued operator actions; then what the sites' facts mean (Ready → Updated, a reported
 * Failed or a missed progress deadline → Failed, Offline/Expired → Skipped and never a failure); then the
 * machine: over the failure budget or a failing gate → onFailure; a settled wave with passing gates bakes;
 * a baked wave hands over to the next (after approval when manual), the last one to Succeeded; finally
 * sites of the current and earlier waves start, inside their windows, up to maxConcurrent in flight.
 *
 * @example
 * const { state, rows } = planRollout(strategy, sites);
 * const decision = decide({ strategy, state, sites: rows.map((r) => ({ ...r, ...factsOf(r.siteId) })), now });
 * decision.start; // the canary's site id
 */
export function decide(input: DecideInput): Decision {
  const { strategy, now } = input;
  const state: RolloutState = structuredClone(input.state);
  const actions = state.actions;
  state.actions = [];
  const total = input.sites.length;
  const lastWave = Math.max(0, state.waves.length - 1);
  const rows: Row[] = input.sites
    .map((site) => ({
      site,
      wave: Math.max(0, Math.min(site.wave, lastWave)),
      status: site.status,
      startedAt: site.startedAt,
      baseline: site.baseline,
      reason: site.reason,
    }))
    .sort(
      (a, b) => a.wave - b.wave || byText(a.site.name, b.site.name) || byText(a.site.siteId, b.site.siteId),
    );
  const ctx: Ctx = {
    strategy,
    now: now.getTime(),
    at: now.toISOString(),
    lastWave,
    cap: concurrencyLimit(strategy.maxConcurrent, total),
    budget: failureBudget(strategy.maxFailures, total),
    state,
    rows,
    start: [],
    rollback: [],
    markFailed: [],
    events: [],
  };

  const phaseBefore = state.phase;
  for (const action of actions) applyAction(ctx, action);
  if (!finalPhases.includes(state.phase) && state.phase !== 'RollingBack') observeSites(ctx);
  const gates = evaluateGates(strategy, rows);
  // Each step moves at most one phase; a wave count bound keeps a bad state from looping.
  for (let i = 0; i < 4 * (state.waves.length + 2) && step(ctx, gates); i++);
  startSites(ctx, phaseBefore);

  state.failures = failedCount(ctx);
  return {
    state,
    start: ctx.start,
    rollback: ctx.rollback,
    markFailed: ctx.markFailed,
    transitions: transitionsOf(rows),
    events: ctx.events,
  };
}
