// The audit log: who changed what, when and from where. Written in the same transaction as the change
// it describes, so a change without its entry (or an entry without its change) cannot happen.

import type { Kysely } from 'kysely';
import type { HubContext } from '../context.ts';
import { newId } from '../ids.ts';
import type { Database } from '../store/schema.ts';

export interface Actor {
  /** e.g. "token:ci-deployer" or "site:store-17" */
  name: string;
  /** the client address the request came from */
  source: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
  source: string;
}

export async function audit(
  db: Kysely<Database>,
  now: Date,
  actor: Actor,
  action: string,
  target: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      id: newId(now),
      at: now.toISOString(),
      actor: actor.name,
      action,
      target,
      details: JSON.stringify(details),
      source: actor.source,
    })
    .execute();
}

export async function listAudit(
  ctx: HubContext,
  opts: { limit: number; before?: string; action?: string },
): Promise<AuditEntry[]> {
  let q = ctx.store.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(opts.limit);
  if (opts.before) q = q.where('id', '<', opts.before);
  if (opts.action) q = q.where('action', '=', opts.action);
  const rows = await q.execute();
  return rows.map((r) => ({ ...r, details: JSON.parse(r.details) }));
}
