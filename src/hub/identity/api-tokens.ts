// Operator API tokens: a name, a role, a hashed secret. The first admin token is made on first start
// (or taken from the environment) and shown once; every other token is made by an admin.

import { bindingProblems, normalizeBinding, type RoleBinding, strongestRole } from '../../model/access.ts';
import { OutpostError } from '../../model/errors.ts';
import { isRole, type Role } from '../../model/roles.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { hashSecret, newSecret, secretMatches, splitToken } from '../credentials.ts';
import { newId } from '../ids.ts';
import { revokeToken } from './revocation.ts';

export interface ApiTokenView {
  id: string;
  name: string;
  role: Role;
  bindings: RoleBinding[];
  createdAt: string;
  createdBy: string;
  revoked: boolean;
}

export interface Operator {
  tokenId: string;
  name: string;
  /** the strongest role of its bindings */
  role: Role;
  /** what the token reaches (model/access.ts) */
  bindings: RoleBinding[];
}

const prefix = 'oat';

export async function createApiToken(
  ctx: HubContext,
  actor: Actor,
  name: string,
  role: Role,
  given?: string,
  scoped?: readonly RoleBinding[],
): Promise<{ token: string; view: ApiTokenView }> {
  if (!isRole(role))
    throw new OutpostError('request_invalid', `role must be viewer, operator or admin, got ${role}`);
  const bindings = (scoped ?? [{ role }]).map(normalizeBinding);
  const problem = bindingProblems(bindings)[0];
  if (problem) throw new OutpostError('request_invalid', problem);
  const strongest = strongestRole(bindings);
  if (!/^[a-z0-9][-a-z0-9_.]{0,62}$/.test(name)) {
    throw new OutpostError(
      'request_invalid',
      'a token name is 1-63 lower-case letters, digits, dashes, dots or underscores',
    );
  }
  const parsed = given ? splitToken(given) : undefined;
  if (given && !parsed)
    throw new OutpostError('request_invalid', `a given token must look like ${prefix}_<uuid>.<secret>`);
  const now = ctx.now();
  const id = parsed?.id ?? newId(now);
  const secret = parsed?.secret ?? newSecret();
  await ctx.store.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('api_tokens')
      .values({
        id,
        name,
        role: strongest,
        bindings: JSON.stringify(bindings),
        secret_hash: hashSecret(secret),
        created_at: now.toISOString(),
        created_by: actor.name,
        revoked_at: null,
      })
      .execute();
    await audit(tx, now, actor, 'api_token.create', `api-token/${name}`, { id, role: strongest, bindings });
  });
  return {
    token: `${prefix}_${id}.${secret}`,
    view: {
      id,
      name,
      role: strongest,
      bindings,
      createdAt: now.toISOString(),
      createdBy: actor.name,
      revoked: false,
    },
  };
}

/** Who presents this bearer token, or undefined for an unknown, malformed or revoked one. */
export async function operatorByToken(ctx: HubContext, token: string): Promise<Operator | undefined> {
  const parts = splitToken(token);
  if (!parts || !token.startsWith(`${prefix}_`)) return undefined;
  const row = await ctx.store.db
    .selectFrom('api_tokens')
    .selectAll()
    .where('id', '=', parts.id)
    .executeTakeFirst();
  if (!row || row.revoked_at || !secretMatches(parts.secret, row.secret_hash)) return undefined;
  return { tokenId: row.id, name: row.name, role: row.role as Role, bindings: bindingsOf(row) };
}

/** A token's bindings; tokens made before bindings existed reach everything with their role. */
function bindingsOf(row: { role: string; bindings: string }): RoleBinding[] {
  const stored = JSON.parse(row.bindings) as RoleBinding[];
  return stored.length > 0 ? stored : [{ role: row.role as Role }];
}

export async function listApiTokens(ctx: HubContext): Promise<ApiTokenView[]> {
  const rows = await ctx.store.db.selectFrom('api_tokens').selectAll().orderBy('id').execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    role: r.role as Role,
    bindings: bindingsOf(r),
    createdAt: r.created_at,
    createdBy: r.created_by,
    revoked: r.revoked_at !== null,
  }));
}

export async function revokeApiToken(ctx: HubContext, actor: Actor, id: string): Promise<void> {
  await revokeToken(ctx, actor, 'api_tokens', id);
}

/** On first start: an admin token, from `given` (environment) or freshly made; undefined if tokens exist. */
export async function ensureFirstAdmin(ctx: HubContext, given?: string): Promise<string | undefined> {
  const any = await ctx.store.db.selectFrom('api_tokens').select('id').limit(1).executeTakeFirst();
  if (any) return undefined;
  const { token } = await createApiToken(ctx, { name: 'hub', source: 'startup' }, 'admin', 'admin', given);
  return token;
}
