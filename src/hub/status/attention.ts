// The attention list: the sites that most need a person, most urgent reason first and, within a
// reason, the longest-standing first. Each site's reason is kept current by every status change, so
// this is one index range read; sites Behind their profile (kept likewise) follow the ranked ones.

import { sql } from 'kysely';
import type { Connectivity } from '../../model/site.ts';
import type { AttentionItem } from '../../model/wire.ts';
import type { LabelSelector } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import { withinSql } from './query-sql.ts';

export interface SiteAttention {
  reason: string;
  detail: string;
  since: string;
}

/** Why one site needs attention now, or null when it does not. */
export async function attentionOf(ctx: HubContext, siteId: string): Promise<SiteAttention | null> {
  const row = await ctx.store.db
    .selectFrom('sites')
    .select(['attention_reason', 'attention_detail', 'attention_since'])
    .where('id', '=', siteId)
    .executeTakeFirstOrThrow();
  if (!row.attention_reason) return null;
  return {
    reason: row.attention_reason,
    detail: row.attention_detail ?? '',
    since: row.attention_since ?? '',
  };
}

/** The most urgent `limit` sites, of all or of those one of `within` picks. */
export async function attentionList(
  ctx: HubContext,
  limit: number,
  within?: readonly LabelSelector[],
): Promise<AttentionItem[]> {
  const rows = await ctx.store.db
    .selectFrom('sites as s')
    .select([
      'name',
      'attention_reason',
      'attention_detail',
      'attention_since',
      'connectivity',
      'last_seen_at',
    ])
    .where('attention_rank', '>', 0)
    .$if(within !== undefined, (q) => q.where(sql<boolean>`${withinSql(within!, ctx.store.sql)}`))
    .orderBy('attention_rank', 'desc')
    .orderBy('attention_since', 'asc')
    .orderBy('id', 'asc')
    .limit(limit)
    .execute();
  const ranked: AttentionItem[] = rows.map((r) => ({
    site: r.name,
    reason: r.attention_reason ?? '',
    detail: r.attention_detail ?? '',
    since: r.attention_since ?? '',
    connectivity: r.connectivity as Connectivity,
    lastSeen: r.last_seen_at,
  }));
  if (ranked.length >= limit) return ranked;
  return [...ranked, ...(await behindProfiles(ctx, limit - ranked.length, within))];
}

/**
 * Sites Behind the profile revision they are given (kept in profile_targets) that need no attention for
 * anything else: ranked after every status reason (their workloads run), longest-given first.
 */
async function behindProfiles(
  ctx: HubContext,
  limit: number,
  within?: readonly LabelSelector[],
): Promise<AttentionItem[]> {
  const rows = await ctx.store.db
    .selectFrom('profile_targets as t')
    .innerJoin('sites as s', 's.id', 't.site_id')
    .select([
      's.name',
      's.connectivity',
      's.last_seen_at',
      't.profile',
      't.revision',
      't.since',
      't.layer_os',
      't.layer_kubernetes',
      't.layer_agent',
      't.layer_addons',
      't.layer_apps',
    ])
    .where('t.state', '=', 'Behind')
    .where('s.attention_rank', '=', 0)
    .$if(within !== undefined, (q) => q.where(sql<boolean>`${withinSql(within!, ctx.store.sql)}`))
    .orderBy('t.since', 'asc')
    .orderBy('s.id', 'asc')
    .limit(limit)
    .execute();
  return rows.map((r) => {
    const layers = Object.entries({
      os: r.layer_os,
      kubernetes: r.layer_kubernetes,
      agent: r.layer_agent,
      addons: r.layer_addons,
      apps: r.layer_apps,
    })
      .filter(([, state]) => state === 'Behind')
      .map(([layer]) => layer);
    return {
      site: r.name,
      reason: 'ProfileBehind',
      detail: `behind profile ${r.profile} r${Number(r.revision)}: ${layers.join(', ')} (outpost profile show ${r.profile})`,
      since: r.since,
      connectivity: r.connectivity as Connectivity,
      lastSeen: r.last_seen_at,
    };
  });
}
