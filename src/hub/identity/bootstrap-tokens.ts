// Bootstrap tokens: what a new site presents once to register. Each has a TTL, a use limit (one by
// default), labels it grants and whether sites using it are approved automatically. Stored hashed,
// shown once, revocable.

import { OutpostError } from '../../model/errors.ts';
import { validateLabels } from '../../select/labels.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { hashSecret, newSecret, secretMatches, splitToken } from '../credentials.ts';
import { newId } from '../ids.ts';
import { type Arg, preparedQuery } from '../store/prepared.ts';
import type { BootstrapTokenTable, Db } from '../store/schema.ts';
import { revokeToken } from './revocation.ts';

export interface BootstrapTokenSpec {
  description?: string;
  labels?: Record<string, string>;
  autoApprove?: boolean;
  maxUses?: number;
  ttlSeconds?: number;
}

export interface BootstrapTokenView {
  id: string;
  description: string;
  labels: Record<string, string>;
  autoApprove: boolean;
  maxUses: number;
  uses: number;
  expiresAt: string;
  revoked: boolean;
  createdAt: string;
  createdBy: string;
}

export interface BootstrapGrant {
  tokenId: string;
  labels: Record<string, string>;
  autoApprove: boolean;
}

function view(r: BootstrapTokenTable): BootstrapTokenView {
  return {
    id: r.id,
    description: r.description,
    labels: JSON.parse(r.labels),
    autoApprove: Number(r.auto_approve) === 1,
    maxUses: Number(r.max_uses),
    uses: Number(r.uses),
    expiresAt: r.expires_at,
    revoked: r.revoked_at !== null,
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

export async function createBootstrapToken(
  ctx: HubContext,
  actor: Actor,
  spec: BootstrapTokenSpec,
): Promise<{ token: string; view: BootstrapTokenView }> {
  const problem = validateLabels(spec.labels ?? {}, 'labels')[0];
  if (problem) throw new OutpostError('request_invalid', `${problem.path}: ${problem.message}`);
  const maxUses = spec.maxUses ?? 1;
  const ttl = spec.ttlSeconds ?? 24 * 3600;
  if (!Number.isInteger(maxUses) || maxUses < 1)
    throw new OutpostError('request_invalid', 'maxUses is a whole number ≥ 1');
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 365 * 24 * 3600) {
    throw new OutpostError('request_invalid', 'ttlSeconds is between 60 and one year');
  }
  const now = ctx.now();
  const row: BootstrapTokenTable = {
    id: newId(now),
    secret_hash: '',
    description: spec.description ?? '',
    labels: JSON.stringify(spec.labels ?? {}),
    auto_approve: spec.autoApprove ? 1 : 0,
    max_uses: maxUses,
    uses: 0,
    expires_at: new Date(now.getTime() + ttl * 1000).toISOString(),
    revoked_at: null,
    created_at: now.toISOString(),
    created_by: actor.name,
  };
  const secret = newSecret();
  row.secret_hash = hashSecret(secret);
  await ctx.store.db.transaction().execute(async (tx) => {
    await tx.insertInto('bootstrap_tokens').values(row).execute();
    await audit(tx, now, actor, 'bootstrap_token.create', `bootstrap-token/${row.id}`, {
      labels: spec.labels ?? {},
      autoApprove: Boolean(spec.autoApprove),
      maxUses,
      ttlSeconds: ttl,
    });
  });
  return { token: `${row.id}.${secret}`, view: view(row) };
}

export async function listBootstrapTokens(ctx: HubContext): Promise<BootstrapTokenView[]> {
  return (await ctx.store.db.selectFrom('bootstrap_tokens').selectAll().orderBy('id').execute()).map(view);
}

export async function revokeBootstrapToken(ctx: HubContext, actor: Actor, id: string): Promise<void> {
  await revokeToken(ctx, actor, 'bootstrap_tokens', id);
}

// every registration runs these two: compiled once (store/prepared.ts)
const tokenById = preparedQuery((db, arg: Arg<{ id: string }>) =>
  db.selectFrom('bootstrap_tokens').selectAll().where('id', '=', arg('id')),
);
const spendUse = preparedQuery((db, arg: Arg<{ id: string }>) =>
  db
    .updateTable('bootstrap_tokens')
    .set((eb) => ({ uses: eb('uses', '+', 1) }))
    .where('id', '=', arg('id'))
    .whereRef('uses', '<', 'max_uses'),
);

/**
 * Spends one use of a bootstrap token inside the caller's transaction. The use is counted by a
 * conditional update, so two registrations racing for the last use cannot both win.
 */
export async function consumeBootstrapToken(tx: Db, now: Date, token: string): Promise<BootstrapGrant> {
  const refuse = (why: string): never => {
    throw new OutpostError('unauthorized', `bootstrap token refused: ${why}`);
  };
  const parts = splitToken(token) ?? refuse('malformed');
  const {
    rows: [row],
  } = await tokenById(tx, { id: parts.id });
  if (!row || !secretMatches(parts.secret, row.secret_hash)) refuse('unknown token');
  if (row!.revoked_at) refuse('revoked');
  if (row!.expires_at <= now.toISOString()) refuse('expired');
  const spent = await spendUse(tx, { id: parts.id });
  if (Number(spent.numAffectedRows ?? 0) === 0) refuse('all its uses are spent');
  return { tokenId: row!.id, labels: JSON.parse(row!.labels), autoApprove: Number(row!.auto_approve) === 1 };
}
