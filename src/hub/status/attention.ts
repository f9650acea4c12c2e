// The attention list: the sites that most need a person, most urgent reason first and, within a
// reason, the longest-standing first. Each site's reason is kept current by every status change, so
// this is one index range read.

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
  return rows.map((r) => ({
    site: r.name,
    reason: r.attention_reason ?? '',
    detail: r.attention_detail ?? '',
    since: r.attention_since ?? '',
    connectivity: r.connectivity as Connectivity,
    lastSeen: r.last_seen_at,
  }));
}
