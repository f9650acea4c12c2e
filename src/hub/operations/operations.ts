// Operations queued for a site's agent: stored with a deadline, announced to the site's long-poll by the
// work signal, claimed by the agent when it asks, finished with its result, expired when the deadline
// passes first. Every request and every outcome is in the audit log.

import { OutpostError } from '../../model/errors.ts';
import {
  finishedStates,
  type OperationKind,
  type OperationResult,
  type OperationState,
  type OperationView,
  type SiteOperation,
} from '../../model/operations.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { newId } from '../ids.ts';
import type { AgentSite, Site } from '../sites/sites.ts';
import type { SiteOperationTable } from '../store/schema.ts';

/** Log chunks of operations finished longer ago than this are dropped. */
const logRetentionMs = 24 * 3600_000;

export function operationView(row: SiteOperationTable, site: string): OperationView {
  return {
    id: row.id,
    site,
    kind: row.kind as OperationKind,
    spec: JSON.parse(row.spec),
    state: row.state as OperationState,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    deadline: row.deadline_at,
    claimedAt: row.claimed_at,
    finishedAt: row.finished_at,
    message: row.message,
    bytes: Number(row.bytes),
  };
}

export interface NewOperation {
  kind: OperationKind;
  spec: Record<string, unknown>;
  deadlineMs: number;
  /** the audit action, e.g. `site.action.restart` */
  action: string;
}

/** Queues an operation for the site and wakes the site's poll; the agent picks it up when it asks. */
export async function queueOperation(
  ctx: HubContext,
  actor: Actor,
  site: Site,
  op: NewOperation,
): Promise<OperationView> {
  const now = ctx.now();
  const row: SiteOperationTable = {
    id: newId(now),
    site_id: site.id,
    kind: op.kind,
    spec: JSON.stringify(op.spec),
    state: 'queued',
    requested_by: actor.name,
    requested_at: now.toISOString(),
    deadline_at: new Date(now.getTime() + op.deadlineMs).toISOString(),
    claimed_at: null,
    finished_at: null,
    message: null,
    bytes: 0,
  };
  await ctx.store.db.transaction().execute(async (tx) => {
    await tx.insertInto('site_operations').values(row).execute();
    await audit(tx, now, actor, op.action, `site/${site.name}`, { operation: row.id, ...op.spec });
  });
  ctx.work.notify([site.id]);
  return operationView(row, site.name);
}

async function rowOf(ctx: HubContext, id: string): Promise<{ row: SiteOperationTable; site: string }> {
  const row = await ctx.store.db
    .selectFrom('site_operations')
    .innerJoin('sites', 'sites.id', 'site_operations.site_id')
    .selectAll('site_operations')
    .select('sites.name as siteName')
    .where('site_operations.id', '=', id)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no operation ${id}`);
  const { siteName, ...op } = row;
  return { row: op, site: siteName };
}

/** One operation as the operator sees it. */
export async function getOperation(ctx: HubContext, id: string): Promise<OperationView> {
  const { row, site } = await rowOf(ctx, id);
  return operationView(row, site);
}

/** The site an operation is for (to check the caller reaches it before anything else). */
export async function siteOfOperation(ctx: HubContext, id: string): Promise<string> {
  return (await rowOf(ctx, id)).site;
}

export async function listOperations(ctx: HubContext, site: Site, limit: number): Promise<OperationView[]> {
  const rows = await ctx.store.db
    .selectFrom('site_operations')
    .selectAll()
    .where('site_id', '=', site.id)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => operationView(r, site.name));
}

/** Operations waiting or running for the site, of one kind: to bound how many a site has at once. */
export async function openOperations(ctx: HubContext, site: Site, kind: OperationKind): Promise<number> {
  const row = await ctx.store.db
    .selectFrom('site_operations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('site_id', '=', site.id)
    .where('kind', '=', kind)
    .where('state', 'in', ['queued', 'running'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The site's agent picks up what waits for it: each queued operation within its deadline becomes running. */
export async function claimOperations(ctx: HubContext, site: AgentSite): Promise<SiteOperation[]> {
  ctx.work.clear(site.id);
  const now = ctx.now().toISOString();
  const claimed = await ctx.store.db.transaction().execute(async (tx) => {
    const rows = await tx
      .selectFrom('site_operations')
      .selectAll()
      .where('site_id', '=', site.id)
      .where('state', '=', 'queued')
      .where('deadline_at', '>', now)
      .orderBy('id')
      .limit(20)
      .execute();
    if (rows.length === 0) return [];
    await tx
      .updateTable('site_operations')
      .set({ state: 'running', claimed_at: now })
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .where('state', '=', 'queued')
      .execute();
    return rows;
  });
  return claimed.map((r) => ({
    id: r.id,
    kind: r.kind as OperationKind,
    spec: JSON.parse(r.spec),
    deadline: r.deadline_at,
  }));
}

/** The agent's own operation, running: anything else is refused (another site's, or one already over). */
export async function runningOperation(
  ctx: HubContext,
  site: AgentSite,
  id: string,
): Promise<SiteOperationTable> {
  const row = await ctx.store.db
    .selectFrom('site_operations')
    .selectAll()
    .where('id', '=', id)
    .where('site_id', '=', site.id)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no operation ${id} for site ${site.name}`);
  if (row.state !== 'running') {
    throw new OutpostError(
      'conflict',
      `operation ${id} is ${row.state}${row.message ? `: ${row.message}` : ''}`,
    );
  }
  return row;
}

/** The agent reports how an operation ended; a late report of one already over changes nothing. */
export async function finishOperation(
  ctx: HubContext,
  site: AgentSite,
  id: string,
  result: OperationResult,
): Promise<OperationView> {
  const now = ctx.now();
  const row = await ctx.store.db
    .selectFrom('site_operations')
    .selectAll()
    .where('id', '=', id)
    .where('site_id', '=', site.id)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no operation ${id} for site ${site.name}`);
  if (row.state !== 'running') return operationView(row, site.name);
  const state = result.ok ? 'done' : 'failed';
  await ctx.store.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('site_operations')
      .set({ state, finished_at: now.toISOString(), message: result.message })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .execute();
    await audit(
      tx,
      now,
      { name: `site:${site.name}`, source: 'agent' },
      `site.${row.kind}.${state}`,
      `site/${site.name}`,
      { operation: id, message: result.message },
    );
  });
  return operationView({ ...row, state, finished_at: now.toISOString(), message: result.message }, site.name);
}

/** An operator ends an operation that has not finished (one still waiting, or logs still coming). */
export async function cancelOperation(ctx: HubContext, actor: Actor, id: string): Promise<OperationView> {
  const { row, site } = await rowOf(ctx, id);
  if (finishedStates.includes(row.state as OperationState)) return operationView(row, site);
  const now = ctx.now();
  await ctx.store.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('site_operations')
      .set({ state: 'cancelled', finished_at: now.toISOString(), message: `cancelled by ${actor.name}` })
      .where('id', '=', id)
      .where('state', 'in', ['queued', 'running'])
      .execute();
    await audit(tx, now, actor, `site.${row.kind}.cancel`, `site/${site}`, { operation: id });
  });
  return getOperation(ctx, id);
}

/**
 * Operations whose deadline passed expire: a queued one the site never picked up (it was offline), a
 * running one that ran out of time. Log chunks of operations long finished are dropped.
 */
export async function expireOperations(ctx: HubContext): Promise<number> {
  const now = ctx.now();
  const at = now.toISOString();
  const r = await ctx.store.db
    .updateTable('site_operations')
    .set((eb) => ({
      state: 'expired',
      finished_at: at,
      message: eb
        .case()
        .when('state', '=', 'queued')
        .then('the site did not pick it up before its deadline')
        .else('the deadline passed before it finished')
        .end(),
    }))
    .where('state', 'in', ['queued', 'running'])
    .where('deadline_at', '<=', at)
    .executeTakeFirst();
  const old = new Date(now.getTime() - logRetentionMs).toISOString();
  await ctx.store.db
    .deleteFrom('operation_log_chunks')
    .where(
      'operation_id',
      'in',
      ctx.store.db.selectFrom('site_operations').select('id').where('finished_at', '<', old),
    )
    .execute();
  return Number(r.numUpdatedRows);
}
