// Telemetry ingest: one agent batch in one transaction, once per (site, batchId). SLI samples become
// per-site 5-minute buckets and feed the totals of every SLO whose scope holds the site; events join the
// fleet's event history; the agent's cumulative drop counts are kept, counted on /metrics, and lost SLIs
// or events raised as an event.

import type { NewEvent } from '../../model/event.ts';
import {
  type TelemetryAck,
  type TelemetryBatch,
  type TelemetryDrops,
  telemetryClasses,
} from '../../model/telemetry.ts';
import { matchesSelector } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import type { AgentSite } from '../sites/sites.ts';
import { bucketize } from '../slo/core/buckets.ts';
import { parseStoredSlo } from '../slo/slos.ts';
import { insertEvents } from '../status/events.ts';
import type { Db } from '../store/schema.ts';
import { addBundleHours, addSloTotals, totalsOf, upsertSiteBuckets } from './sli-store.ts';

const noDrops: TelemetryDrops = { sli: 0, event: 0, metric: 0, debug: 0 };
const maxAheadMs = 3_600_000;

/**
 * New drops since the highest counts seen, per class. Counts are cumulative, so a batch that arrives late
 * (with lower counts) adds nothing; an agent whose state was reset counts again only past its old total.
 *
 * @example
 * dropGrowth({ sli: 0, event: 2, metric: 10, debug: 0 }, { sli: 0, event: 5, metric: 3, debug: 0 });
 * // { sli: 0, event: 3, metric: 0, debug: 0 }
 */
export function dropGrowth(before: TelemetryDrops, now: TelemetryDrops): TelemetryDrops {
  const out = { ...noDrops };
  for (const c of telemetryClasses) out[c] = Math.max(0, now[c] - before[c]);
  return out;
}

export async function ingestTelemetry(
  ctx: HubContext,
  site: AgentSite,
  batch: TelemetryBatch,
): Promise<TelemetryAck> {
  const nowMs = ctx.now().getTime();
  const result = await ctx.store.db.transaction().execute(async (tx) => {
    const fresh = await tx
      .insertInto('telemetry_batches')
      .values({ site_id: site.id, batch_id: batch.batchId, received_at: nowMs })
      .onConflict((oc) => oc.columns(['site_id', 'batch_id']).doNothing())
      .executeTakeFirst();
    if (Number(fresh.numInsertedOrUpdatedRows ?? 0n) === 0)
      return { accepted: false, events: 0, drops: noDrops };

    // a site whose clock runs far ahead would fill buckets no window reads yet and no pruning reaches
    const buckets = bucketize(batch.samples).filter((b) => b.start <= nowMs + maxAheadMs);
    await upsertSiteBuckets(tx, site.id, buckets);
    await addBundleHours(tx, buckets);
    await feedSlos(tx, site, buckets);

    const events: NewEvent[] = batch.events.map((e) => ({
      type: 'site_event',
      site: site.name,
      ...(e.bundle !== undefined ? { bundle: e.bundle } : {}),
      message: `${e.type} ${e.reason} on ${e.object}: ${e.message}`,
      details: {
        type: e.type,
        object: e.object,
        reason: e.reason,
        count: e.count ?? 1,
        t: new Date(e.t).toISOString(),
      },
    }));
    const drops = await recordDrops(ctx, tx, site, batch.dropped);
    // lost SLIs or events are worth an event; raw metrics and debug samples go first by design, so their
    // drops are only counted (stored totals and /metrics)
    if (drops.sli > 0 || drops.event > 0) {
      events.push({
        type: 'telemetry_dropped',
        site: site.name,
        message: `the agent dropped telemetry: ${telemetryClasses
          .filter((c) => drops[c] > 0)
          .map((c) => `${drops[c]} ${c}`)
          .join(', ')}`,
        details: { new: drops, total: batch.dropped },
      });
    }
    await insertEvents(ctx, tx, events);
    await ctx.remoteWrite?.enqueue(tx, site.name, batch.samples);
    return { accepted: true, events: events.length, drops };
  });
  ctx.metrics.telemetry.batches.inc({ result: result.accepted ? 'accepted' : 'duplicate' });
  if (!result.accepted) return { accepted: false };
  ctx.metrics.telemetry.samples.inc(batch.samples.length);
  for (const c of telemetryClasses)
    if (result.drops[c] > 0) ctx.metrics.telemetry.agentDrops.inc({ class: c }, result.drops[c]);
  if (result.events > 0) ctx.events.notify();
  return { accepted: true };
}

/** Adds the site's buckets to each SLO of their bundles whose selector matches the site. */
async function feedSlos(tx: Db, site: AgentSite, buckets: ReturnType<typeof bucketize>): Promise<void> {
  const bundles = [...new Set(buckets.map((b) => b.bundle))];
  if (bundles.length === 0) return;
  const slos = await tx.selectFrom('slos').select(['name', 'spec']).where('bundle', 'in', bundles).execute();
  for (const row of slos) {
    const spec = parseStoredSlo(row.spec);
    if (spec.selector && !matchesSelector(spec.selector, site.labels)) continue;
    // counts may come in separate batches: any count in a bucket adds to the SLO's totals
    const mine = buckets.filter(
      (b) =>
        b.bundle === spec.bundle &&
        (b.requests !== undefined || b.errors !== undefined || b.slow !== undefined),
    );
    if (mine.length > 0) await addSloTotals(tx, row.name, mine.map(totalsOf));
  }
}

async function recordDrops(
  ctx: HubContext,
  tx: Db,
  site: AgentSite,
  now: TelemetryDrops,
): Promise<TelemetryDrops> {
  const row = await tx
    .selectFrom('telemetry_drops')
    .selectAll()
    .where('site_id', '=', site.id)
    .executeTakeFirst();
  const before = row
    ? { sli: Number(row.sli), event: Number(row.event), metric: Number(row.metric), debug: Number(row.debug) }
    : noDrops;
  const growth = dropGrowth(before, now);
  if (row && telemetryClasses.every((c) => growth[c] === 0)) return growth;
  const highest = { ...before };
  for (const c of telemetryClasses) highest[c] = Math.max(before[c], now[c]);
  const values = { ...highest, updated_at: ctx.now().toISOString() };
  await tx
    .insertInto('telemetry_drops')
    .values({ site_id: site.id, ...values })
    .onConflict((oc) => oc.column('site_id').doUpdateSet(values))
    .execute();
  return growth;
}
