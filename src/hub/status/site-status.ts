// The store side of incremental status: load a site's facts, and record a change to them inside the
// writer's own transaction — aggregate deltas, the site's derived columns (worst state, attention) and
// the events the change means. Every writer that moves a counted fact goes through recordChange.

import type { DeploymentState } from '../../model/deployment.ts';
import type { NewEvent } from '../../model/event.ts';
import type { Connectivity, Lifecycle } from '../../model/site.ts';
import type { HubContext } from '../context.ts';
import type { Db, DeploymentTable, SiteTable } from '../store/schema.ts';
import {
  addDeltas,
  aggregateDeltas,
  attentionOf,
  type CellCounts,
  type DeploymentFacts,
  type SiteFacts,
  transitionEvents,
  worstStateOf,
} from './aggregate.ts';
import { writeDeltas } from './aggregate-store.ts';
import { insertEvents } from './events.ts';

export type SiteFactsRow = Pick<
  SiteTable,
  'id' | 'name' | 'lifecycle' | 'connectivity' | 'connectivity_since' | 'labels' | 'registered_at'
>;
export type DeploymentFactsRow = Pick<
  DeploymentTable,
  | 'site_id'
  | 'bundle'
  | 'desired_revision'
  | 'desired_digest'
  | 'state'
  | 'state_since'
  | 'updated_at'
  | 'message'
>;

export const siteFactColumns = [
  'id',
  'name',
  'lifecycle',
  'connectivity',
  'connectivity_since',
  'labels',
  'registered_at',
] as const;
export const deploymentFactColumns = [
  'site_id',
  'bundle',
  'desired_revision',
  'desired_digest',
  'state',
  'state_since',
  'updated_at',
  'message',
] as const;

export function deploymentFacts(row: DeploymentFactsRow): DeploymentFacts {
  return {
    bundle: row.bundle,
    revision: row.desired_revision === null ? null : Number(row.desired_revision),
    state: row.state as DeploymentState,
    placed: row.desired_digest !== null,
    stateSince: row.state_since ?? row.updated_at,
    message: row.message,
  };
}

export function siteFacts(row: SiteFactsRow, deployments: readonly DeploymentFacts[]): SiteFacts {
  return {
    name: row.name,
    lifecycle: row.lifecycle as Lifecycle,
    connectivity: row.connectivity as Connectivity,
    connectivitySince: row.connectivity_since ?? row.registered_at,
    labels: JSON.parse(row.labels),
    deployments,
  };
}

/** Loads the facts of the given sites (absent ids are simply missing from the map). */
export async function loadFacts(db: Db, siteIds: readonly string[]): Promise<Map<string, SiteFacts>> {
  const out = new Map<string, SiteFacts>();
  for (let i = 0; i < siteIds.length; i += 500) {
    const ids = siteIds.slice(i, i + 500);
    const sites = await db.selectFrom('sites').select(siteFactColumns).where('id', 'in', ids).execute();
    const deployments = await db
      .selectFrom('deployments')
      .select(deploymentFactColumns)
      .where('site_id', 'in', ids)
      .orderBy('bundle')
      .execute();
    const bySite = new Map<string, DeploymentFacts[]>();
    for (const d of deployments) {
      const list = bySite.get(d.site_id) ?? [];
      list.push(deploymentFacts(d));
      bySite.set(d.site_id, list);
    }
    for (const s of sites) out.set(s.id, siteFacts(s, bySite.get(s.id) ?? []));
  }
  return out;
}

export type DerivedColumns = Pick<
  SiteTable,
  'worst_state' | 'attention_rank' | 'attention_reason' | 'attention_detail' | 'attention_since'
>;

export function derivedColumns(facts: SiteFacts): DerivedColumns {
  const attention = attentionOf(facts);
  return {
    worst_state: worstStateOf(facts),
    attention_rank: attention?.rank ?? 0,
    attention_reason: attention?.reason ?? null,
    attention_detail: attention?.detail ?? null,
    attention_since: attention?.since ?? null,
  };
}

function sameDerived(a: DerivedColumns, b: DerivedColumns): boolean {
  return (
    a.worst_state === b.worst_state &&
    a.attention_rank === b.attention_rank &&
    a.attention_reason === b.attention_reason &&
    a.attention_detail === b.attention_detail &&
    a.attention_since === b.attention_since
  );
}

export interface SiteChange {
  siteId: string;
  before: SiteFacts | undefined;
  after: SiteFacts | undefined;
}

/**
 * Records changes to sites inside the caller's transaction: one batched aggregate write, the derived
 * columns of sites whose worst state or attention moved, and the transition events. Returns how many
 * events it stored, so the caller can wake event readers after the commit.
 */
export async function recordChanges(
  ctx: HubContext,
  tx: Db,
  changes: readonly SiteChange[],
  extraEvents: readonly NewEvent[] = [],
  opts: { derivedWritten?: boolean } = {},
): Promise<number> {
  const labelKeys = ctx.config.aggregateLabels;
  const total: CellCounts = new Map();
  const events: NewEvent[] = [...extraEvents];
  for (const c of changes) {
    addDeltas(total, aggregateDeltas(c.before, c.after, labelKeys));
    events.push(...transitionEvents(c.before, c.after));
    if (c.after && !opts.derivedWritten) {
      const next = derivedColumns(c.after);
      if (!c.before || !sameDerived(derivedColumns(c.before), next)) {
        await tx.updateTable('sites').set(next).where('id', '=', c.siteId).execute();
      }
    }
  }
  await writeDeltas(tx, total);
  // last before the commit: on PostgreSQL event writers queue on one lock until they commit (ids must
  // become visible in order), so it is held for the insert and the commit alone; the count changes
  // before it lock nothing there
  await insertEvents(ctx, tx, events);
  return events.length;
}

/**
 * Changes sites and records what moved, for writers off the hot path (label edits, approval,
 * decommissioning, identity expiry): loads the sites' facts, runs `mutate` in the same transaction,
 * loads them again and records the difference with any extra events, then wakes event readers.
 *
 * @example
 * await changeSites(ctx, [site.id], (tx) => tx.updateTable('sites').set({ lifecycle: 'Active' })
 *   .where('id', '=', site.id).execute(), [{ type: 'approved', site: site.name, message: '…' }]);
 */
export async function changeSites(
  ctx: HubContext,
  siteIds: readonly string[],
  mutate: (tx: Db) => Promise<unknown>,
  events: readonly NewEvent[] = [],
): Promise<void> {
  const stored = await ctx.store.db.transaction().execute(async (tx) => {
    const before = await loadFacts(tx, siteIds);
    await mutate(tx);
    const after = await loadFacts(tx, siteIds);
    const changes = siteIds.map((siteId) => ({
      siteId,
      before: before.get(siteId),
      after: after.get(siteId),
    }));
    return recordChanges(ctx, tx, changes, events);
  });
  if (stored > 0) ctx.events.notify();
}
