// Telemetry retention: batch ids, per-site buckets, hourly bundle counts, per-SLO totals and finished
// webhook deliveries are dropped once older than the configured retention, so the store's size follows
// the fleet, not its age.

import type { HubContext } from '../context.ts';

const deliveriesKeptMs = 7 * 24 * 3600_000;

export async function pruneTelemetry(ctx: HubContext): Promise<number> {
  const now = ctx.now().getTime();
  const t = ctx.config.telemetry;
  const db = ctx.store.db;
  const counts = await Promise.all([
    db
      .deleteFrom('telemetry_batches')
      .where('received_at', '<', now - t.batchRetentionMs)
      .executeTakeFirst(),
    db
      .deleteFrom('sli_site_buckets')
      .where('bucket_start', '<', now - t.siteRetentionMs)
      .executeTakeFirst(),
    db
      .deleteFrom('slo_buckets')
      .where('bucket_start', '<', now - t.sloRetentionMs)
      .executeTakeFirst(),
    db
      .deleteFrom('alert_deliveries')
      .where('state', '<>', 'pending')
      .where('next_attempt_at', '<', now - deliveriesKeptMs)
      .executeTakeFirst(),
  ]);
  return counts.reduce((sum, r) => sum + Number(r.numDeletedRows), 0);
}
