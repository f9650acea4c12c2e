// Tunnel sessions: the short-lived credential an operator's Kubernetes client presents to reach one
// site's API through the hub, bound to the API token that opened it, the site and the mode. Kept hashed.

import { OutpostError } from '../../model/errors.ts';
import type { TunnelMode } from '../../model/tunnel.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { hashSecret, newSecret, secretMatches, splitToken } from '../credentials.ts';
import type { Operator } from '../identity/api-tokens.ts';
import { newId } from '../ids.ts';
import type { Site } from '../sites/sites.ts';

const prefix = 'otc';

export interface TunnelSession {
  id: string;
  siteId: string;
  operator: string;
  mode: TunnelMode;
  expiresAt: string;
}

/** Makes a session's credential and audits who opened it, for which site, in which mode, until when. */
export async function openTunnelSession(
  ctx: HubContext,
  actor: Actor,
  operator: Operator,
  site: Site,
  mode: TunnelMode,
  ttlSeconds: number,
): Promise<{ session: TunnelSession; token: string }> {
  const now = ctx.now();
  const id = newId(now);
  const secret = newSecret();
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
  await ctx.store.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('tunnel_sessions')
      .values({
        id,
        site_id: site.id,
        api_token_id: operator.tokenId,
        operator: operator.name,
        mode,
        secret_hash: hashSecret(secret),
        created_at: now.toISOString(),
        expires_at: expiresAt,
      })
      .execute();
    await audit(tx, now, actor, 'site.tunnel.open', `site/${site.name}`, { session: id, mode, expiresAt });
  });
  return {
    session: { id, siteId: site.id, operator: operator.name, mode, expiresAt },
    token: `${prefix}_${id}.${secret}`,
  };
}

/**
 * The session a tunnel credential belongs to; refused (401) when unknown, expired, or when the API
 * token that opened it was revoked since.
 */
export async function tunnelSessionByToken(ctx: HubContext, token: string): Promise<TunnelSession> {
  const parts = token.startsWith(`${prefix}_`) ? splitToken(token) : undefined;
  const row = parts
    ? await ctx.store.db
        .selectFrom('tunnel_sessions')
        .innerJoin('api_tokens', 'api_tokens.id', 'tunnel_sessions.api_token_id')
        .selectAll('tunnel_sessions')
        .select('api_tokens.revoked_at as tokenRevokedAt')
        .where('tunnel_sessions.id', '=', parts.id)
        .executeTakeFirst()
    : undefined;
  if (!parts || !row || !secretMatches(parts.secret, row.secret_hash)) {
    throw new OutpostError('unauthorized', 'invalid tunnel credential (open one with `outpost tunnel SITE`)');
  }
  if (row.tokenRevokedAt) {
    throw new OutpostError('unauthorized', `the API token that opened tunnel session ${row.id} was revoked`);
  }
  if (row.expires_at <= ctx.now().toISOString()) {
    throw new OutpostError(
      'unauthorized',
      `tunnel session ${row.id} expired at ${row.expires_at} (open a new one with \`outpost tunnel\`)`,
    );
  }
  return {
    id: row.id,
    siteId: row.site_id,
    operator: row.operator,
    mode: row.mode as TunnelMode,
    expiresAt: row.expires_at,
  };
}

/** Sessions expired longer ago than this are deleted; the audit log keeps what they did. */
const keepExpiredMs = 24 * 3600_000;

/** Drops sessions long expired, so each `outpost tunnel` does not leave a row forever. */
export async function pruneTunnelSessions(ctx: HubContext): Promise<number> {
  const before = new Date(ctx.now().getTime() - keepExpiredMs).toISOString();
  const r = await ctx.store.db
    .deleteFrom('tunnel_sessions')
    .where('expires_at', '<', before)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
