// Delivers queued alert messages to their webhook receivers: due ones are POSTed; a 2xx is delivered,
// a network error, 5xx or 429 is retried with doubling delays up to maxAttempts, any other answer fails
// the delivery at once (the receiver will not take it). The queue is a table, so a restart loses nothing.

import type { HubContext } from '../context.ts';
import { retryDelayMs } from './core/notify.ts';

const perPass = 100;
/** longer than a delivery attempt may take (its timeout) */
const leaseMs = 60_000;

export interface DeliveryPass {
  delivered: number;
  retrying: number;
  failed: number;
}

export async function deliverAlerts(ctx: HubContext): Promise<DeliveryPass> {
  const pass: DeliveryPass = { delivered: 0, retrying: 0, failed: 0 };
  const due = await ctx.store.db
    .selectFrom('alert_deliveries')
    .selectAll()
    .where('state', '=', 'pending')
    .where('next_attempt_at', '<=', ctx.now().getTime())
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(perPass)
    .execute();
  const cfg = ctx.config.alerts;
  for (const d of due) {
    // claim it with a lease (compare-and-set on its due time), so two hubs never send it both
    const claimed = await ctx.store.db
      .updateTable('alert_deliveries')
      .set({ next_attempt_at: ctx.now().getTime() + leaseMs })
      .where('id', '=', d.id)
      .where('state', '=', 'pending')
      .where('next_attempt_at', '=', d.next_attempt_at)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) continue;
    const receiver = cfg.receivers.find((r) => r.name === d.receiver);
    const attempts = Number(d.attempts) + 1;
    let error: string | undefined;
    let retry = false;
    if (!receiver) {
      error = `receiver ${d.receiver} is no longer configured`;
    } else {
      try {
        const res = await fetch(receiver.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'outpost-hub' },
          body: d.payload,
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        if (!res.ok) {
          error = `HTTP ${res.status}`;
          retry = res.status >= 500 || res.status === 429;
        }
      } catch (e) {
        error = (e as Error).message;
        retry = true;
      }
    }
    const now = ctx.now();
    if (error === undefined) {
      await ctx.store.db
        .updateTable('alert_deliveries')
        .set({ state: 'delivered', attempts, delivered_at: now.toISOString(), last_error: null })
        .where('id', '=', d.id)
        .execute();
      pass.delivered++;
      ctx.metrics.telemetry.deliveries.inc({ result: 'delivered' });
    } else if (retry && attempts < cfg.maxAttempts) {
      await ctx.store.db
        .updateTable('alert_deliveries')
        .set({
          attempts,
          last_error: error,
          next_attempt_at: now.getTime() + retryDelayMs(attempts, cfg.retryBaseMs, cfg.retryMaxMs),
        })
        .where('id', '=', d.id)
        .execute();
      pass.retrying++;
      ctx.metrics.telemetry.deliveries.inc({ result: 'retry' });
    } else {
      await ctx.store.db
        .updateTable('alert_deliveries')
        .set({ state: 'failed', attempts, last_error: error })
        .where('id', '=', d.id)
        .execute();
      pass.failed++;
      ctx.metrics.telemetry.deliveries.inc({ result: 'failed' });
    }
  }
  return pass;
}
