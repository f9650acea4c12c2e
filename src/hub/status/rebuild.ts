// Builds the status aggregates from scratch: after the migration that introduced them, and whenever
// the configured aggregate labels (or the counting rules' version) change. It is the one full scan;
// everything else moves the counts by deltas.

import type { HubContext } from '../context.ts';
import { addDeltas, type CellCounts, contributions } from './aggregate.ts';
import { clearAggregates, upsertCells } from './aggregate-store.ts';
import { derivedColumns, loadFacts } from './site-status.ts';

/** Bump when contributions() counts differently, so existing hubs rebuild on their next start. */
const rulesVersion = 1;

function signature(ctx: Pick<HubContext, 'config'>): string {
  return JSON.stringify({ rulesVersion, labels: [...ctx.config.aggregateLabels].sort() });
}

/** Rebuilds the aggregates when they were built under other rules; returns whether it did. */
export async function ensureAggregates(ctx: Pick<HubContext, 'config' | 'store'>): Promise<boolean> {
  const row = await ctx.store.db
    .selectFrom('status_meta')
    .select('value')
    .where('name', '=', 'aggregates')
    .executeTakeFirst();
  if (row?.value === signature(ctx)) return false;
  await rebuildAggregates(ctx);
  return true;
}

export async function rebuildAggregates(ctx: Pick<HubContext, 'config' | 'store'>): Promise<void> {
  const labelKeys = ctx.config.aggregateLabels;
  await ctx.store.db.transaction().execute(async (tx) => {
    // replicas starting at once rebuild one after the other, each from what the last one committed
    await ctx.store.sql.lockTransaction(tx as never, 'aggregates');
    await clearAggregates(tx);
    const total: CellCounts = new Map();
    let after = '';
    for (;;) {
      const page = await tx
        .selectFrom('sites')
        .select([
          'id',
          'worst_state',
          'attention_rank',
          'attention_reason',
          'attention_detail',
          'attention_since',
        ])
        .where('id', '>', after)
        .orderBy('id')
        .limit(1000)
        .execute();
      if (page.length === 0) break;
      after = page[page.length - 1]!.id;
      const facts = await loadFacts(
        tx,
        page.map((p) => p.id),
      );
      for (const stored of page) {
        const f = facts.get(stored.id);
        if (!f) continue;
        addDeltas(total, contributions(f, labelKeys));
        const derived = derivedColumns(f);
        if (
          derived.worst_state !== stored.worst_state ||
          derived.attention_rank !== Number(stored.attention_rank) ||
          derived.attention_reason !== stored.attention_reason ||
          derived.attention_detail !== stored.attention_detail ||
          derived.attention_since !== stored.attention_since
        ) {
          await tx.updateTable('sites').set(derived).where('id', '=', stored.id).execute();
        }
      }
    }
    await upsertCells(tx, total);
    await tx
      .insertInto('status_meta')
      .values({ name: 'aggregates', value: signature(ctx) })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: signature(ctx) }))
      .execute();
  });
}
