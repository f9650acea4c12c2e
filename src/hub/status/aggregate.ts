// Fleet status as pure functions of one site's facts: what the site adds to every aggregate count, the
// difference a change makes (the deltas a writer applies in the same transaction), why the site needs
// attention, and which events a change means. No I/O here; the store side is site-status.ts.

import { agentBundleName, saysUpgradeReverted } from '../../model/agent-release.ts';
import { type DeploymentState, worstState } from '../../model/deployment.ts';
import type { NewEvent } from '../../model/event.ts';
import { saysRolledBack } from '../../model/event.ts';
import type { Connectivity, Lifecycle } from '../../model/site.ts';

export interface DeploymentFacts {
  bundle: string;
  /** desired revision; null while the deployment is being removed */
  revision: number | null;
  state: DeploymentState;
  /** the hub wants it there (desired digest set); removals pending count nowhere */
  placed: boolean;
  /** when `state` last changed (ISO-8601) */
  stateSince: string;
  message: string;
}

export interface SiteFacts {
  name: string;
  lifecycle: Lifecycle;
  connectivity: Connectivity;
  connectivitySince: string;
  labels: Readonly<Record<string, string>>;
  deployments: readonly DeploymentFacts[];
  /**
   * set on a connectivity change that a relay explains: the site went Stale because its relay went
   * silent, or came back with it. The relay's own event (relay_lost, relay_returned) speaks for it.
   */
  viaRelay?: string;
}

/**
 * Dimensions counted today. A rollout and its waves slot in as two more ('rollout' keyed by rollout id,
 * 'wave' keyed `id#n`) from a rollout field on DeploymentFacts; nothing else changes.
 */
export type Dimension = 'fleet' | 'bundle' | 'revision' | 'label';

/** One counter: metric is `sites`, `lifecycle:<L>`, `connectivity:<C>` (Active sites) or `state:<S>`. */
export interface AggregateCell {
  dimension: Dimension;
  key: string;
  metric: string;
}

/** Counts keyed by cellId; a delta map holds only non-zero entries. */
export type CellCounts = Map<string, number>;

const SEP = '\u0000';

export function cellId(dimension: Dimension, key: string, metric: string): string {
  return `${dimension}${SEP}${key}${SEP}${metric}`;
}

export function cellOf(id: string): AggregateCell {
  const [dimension, key, metric] = id.split(SEP) as [Dimension, string, string];
  return { dimension, key, metric };
}

export function revisionKey(bundle: string, revision: number): string {
  return `${bundle}@${revision}`;
}

export function labelKey(key: string, value: string): string {
  return `${key}=${value}`;
}

function bump(counts: CellCounts, id: string, by: number): void {
  const n = (counts.get(id) ?? 0) + by;
  if (n === 0) counts.delete(id);
  else counts.set(id, n);
}

/**
 * Everything one site adds to the aggregates: the site itself by lifecycle (and connectivity while
 * Active) in the fleet and in each aggregated label's value; each placed deployment by state in the
 * fleet, its bundle, its bundle revision and the site's aggregated label values, plus (Active sites) the
 * bundle's and revision's connectivity.
 */
export function contributions(site: SiteFacts | undefined, labelKeys: readonly string[]): CellCounts {
  const out: CellCounts = new Map();
  if (!site) return out;
  const active = site.lifecycle === 'Active';
  const connectivity = `connectivity:${site.connectivity}`;
  const labelDims: string[] = [];
  for (const k of labelKeys) {
    const v = aggregatedLabel(site, k);
    if (v !== undefined) labelDims.push(labelKey(k, v));
  }
  bump(out, cellId('fleet', '', 'sites'), 1);
  bump(out, cellId('fleet', '', `lifecycle:${site.lifecycle}`), 1);
  if (active) bump(out, cellId('fleet', '', connectivity), 1);
  for (const l of labelDims) {
    bump(out, cellId('label', l, 'sites'), 1);
    if (active) bump(out, cellId('label', l, connectivity), 1);
  }
  for (const d of site.deployments) {
    if (!d.placed) continue;
    const state = `state:${d.state}`;
    bump(out, cellId('fleet', '', state), 1);
    bump(out, cellId('bundle', d.bundle, state), 1);
    if (active) bump(out, cellId('bundle', d.bundle, connectivity), 1);
    if (d.revision !== null) {
      const rk = revisionKey(d.bundle, d.revision);
      bump(out, cellId('revision', rk, state), 1);
      if (active) bump(out, cellId('revision', rk, connectivity), 1);
    }
    for (const l of labelDims) bump(out, cellId('label', l, state), 1);
  }
  return out;
}

/** A label's value as the aggregates count it: own string values only. */
function aggregatedLabel(site: SiteFacts, key: string): string | undefined {
  const v = site.labels[key];
  return typeof v === 'string' && Object.hasOwn(site.labels, key) ? v : undefined;
}

/**
 * Whether two facts of one site add the same to every count: same lifecycle, connectivity, aggregated
 * label values and deployments (bundle, revision, state, placed, in the same order). Messages and
 * timestamps count nowhere. Only answers true when sure; false sends the caller to the full difference.
 */
function countedAlike(a: SiteFacts, b: SiteFacts, labelKeys: readonly string[]): boolean {
  if (a.lifecycle !== b.lifecycle || a.connectivity !== b.connectivity) return false;
  if (a.deployments.length !== b.deployments.length) return false;
  for (let i = 0; i < a.deployments.length; i++) {
    const x = a.deployments[i]!;
    const y = b.deployments[i]!;
    if (x.bundle !== y.bundle || x.revision !== y.revision || x.state !== y.state || x.placed !== y.placed) {
      return false;
    }
  }
  if (a.labels === b.labels) return true;
  return labelKeys.every((k) => aggregatedLabel(a, k) === aggregatedLabel(b, k));
}

/** The count changes that turn `before` into `after` (either may be absent: a new or removed site). */
export function aggregateDeltas(
  before: SiteFacts | undefined,
  after: SiteFacts | undefined,
  labelKeys: readonly string[],
): CellCounts {
  // most changes are heartbeats and messages: skip building two sites' worth of cell ids to cancel out
  if (before && after && countedAlike(before, after, labelKeys)) return new Map();
  const deltas = contributions(after, labelKeys);
  for (const [id, n] of contributions(before, labelKeys)) bump(deltas, id, -n);
  return deltas;
}

/** Adds `deltas` into `into` (to batch many sites' changes into one write). */
export function addDeltas(into: CellCounts, deltas: CellCounts): void {
  for (const [id, n] of deltas) bump(into, id, n);
}

export function worstStateOf(site: SiteFacts): DeploymentState | null {
  return worstState(site.deployments.filter((d) => d.placed).map((d) => d.state)) ?? null;
}

/** Why a site needs attention, most urgent first. */
export const attentionReasons = ['Failed', 'Drifted', 'Expired', 'Offline', 'NotReady', 'Stale'] as const;
export type AttentionReason = (typeof attentionReasons)[number];

export interface Attention {
  /** higher is more urgent; 0 never appears (no attention needed is undefined) */
  rank: number;
  reason: AttentionReason;
  detail: string;
  /** since when the reason holds: the attention list shows the oldest first */
  since: string;
}

function rankOf(reason: AttentionReason): number {
  return attentionReasons.length - attentionReasons.indexOf(reason);
}

/**
 * The most urgent reason a site needs attention: a failed or drifted deployment outranks losing
 * contact (its last known state still matters), an expired identity outranks silence, and a
 * deployment not ready outranks a site that only missed a few heartbeats.
 */
export function attentionOf(site: SiteFacts): Attention | undefined {
  const candidates: Attention[] = [];
  for (const d of site.deployments) {
    if (!d.placed) continue;
    if (d.state === 'Failed' || d.state === 'Drifted' || d.state === 'NotReady') {
      const detail = d.message ? `${d.bundle}: ${d.message}` : `${d.bundle} is ${d.state}`;
      candidates.push({ rank: rankOf(d.state), reason: d.state, detail, since: d.stateSince });
    }
  }
  if (site.lifecycle === 'Active' && site.connectivity !== 'Online') {
    const reason = site.connectivity;
    const via = site.viaRelay ? ` via relay ${site.viaRelay}` : '';
    candidates.push({
      rank: rankOf(reason),
      reason,
      detail: `${reason}${via} since ${site.connectivitySince}`,
      since: site.connectivitySince,
    });
  }
  let best: Attention | undefined;
  for (const c of candidates) {
    if (!best || c.rank > best.rank || (c.rank === best.rank && c.since < best.since)) best = c;
  }
  return best;
}

const connectivityEvents: Partial<Record<Connectivity, NewEvent['type']>> = {
  Stale: 'became_stale',
  Offline: 'went_offline',
  Online: 'came_back',
};

/**
 * Events a change means: connectivity transitions of an Active site, and per deployment a move into
 * Failed or Drifted, back to Ready from one of them, or a message that says the agent rolled back.
 */
export function transitionEvents(before: SiteFacts | undefined, after: SiteFacts | undefined): NewEvent[] {
  if (!before || !after) return [];
  const events: NewEvent[] = [];
  if (after.lifecycle === 'Active' && before.connectivity !== after.connectivity && !after.viaRelay) {
    const type = connectivityEvents[after.connectivity];
    if (type) {
      events.push({
        type,
        site: after.name,
        message: `${after.name} is ${after.connectivity} (was ${before.connectivity})`,
        details: { from: before.connectivity, to: after.connectivity },
      });
    }
  }
  const previous = new Map(before.deployments.map((d) => [d.bundle, d]));
  for (const d of after.deployments) {
    if (!d.placed) continue;
    const was = previous.get(d.bundle);
    const details = { from: was?.state ?? null, to: d.state, revision: d.revision };
    const message = d.message ? `: ${d.message}` : '';
    if ((d.state === 'Failed' || d.state === 'Drifted') && was?.state !== d.state) {
      events.push({
        type: d.state === 'Failed' ? 'failed' : 'drifted',
        site: after.name,
        bundle: d.bundle,
        message: `${d.bundle} on ${after.name} is ${d.state}${message}`,
        details,
      });
    } else if (d.state === 'Ready' && (was?.state === 'Failed' || was?.state === 'Drifted')) {
      events.push({
        type: 'recovered',
        site: after.name,
        bundle: d.bundle,
        message: `${d.bundle} on ${after.name} is Ready again (was ${was.state})`,
        details,
      });
    }
    if (
      d.bundle === agentBundleName &&
      saysUpgradeReverted(d.message) &&
      !saysUpgradeReverted(was?.message)
    ) {
      events.push({
        type: 'agent_upgrade_reverted',
        site: after.name,
        bundle: d.bundle,
        message: `${after.name}: ${d.message}`,
        details,
      });
    }
    if (saysRolledBack(d.message) && !saysRolledBack(was?.message)) {
      events.push({
        type: 'rolled_back',
        site: after.name,
        bundle: d.bundle,
        message: `${d.bundle} on ${after.name}${message}`,
        details,
      });
    }
  }
  return events;
}
