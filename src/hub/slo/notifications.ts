// Alert messages: the Alertmanager alert for an SLO's burn rule, queued once per configured receiver in
// the caller's transaction (the delivery queue is webhooks.ts), and the resolutions an SLO's deletion owes.

import type { SloSpec } from '../../model/slo-wire.ts';
import type { HubContext } from '../context.ts';
import { newId } from '../ids.ts';
import type { Db } from '../store/schema.ts';
import type { BurnVerdict } from './core/budget.ts';
import { type AlertInstance, webhookMessage } from './core/notify.ts';

const alertNames = { fast: 'SloFastBurn', slow: 'SloSlowBurn' } as const;

export function instance(
  spec: SloSpec,
  v: BurnVerdict,
  status: 'firing' | 'resolved',
  startsAt: string,
  endsAt?: string,
): AlertInstance {
  const fmt = (n: number | null) => (n === null ? 'no data' : n.toFixed(2));
  return {
    status,
    labels: {
      alertname: alertNames[v.rule.kind],
      slo: spec.name,
      bundle: spec.bundle,
      severity: v.rule.severity,
    },
    annotations: {
      summary: `SLO ${spec.name} (bundle ${spec.bundle}) is burning its error budget ${v.rule.kind === 'fast' ? 'fast' : 'steadily'}`,
      description: `burn rate ${fmt(v.long)} over ${v.rule.longMs / 60_000}m and ${fmt(v.short)} over ${v.rule.shortMs / 60_000}m; alert above ${v.rule.factor} (objective ${spec.objective}, window ${spec.window})`,
    },
    startsAt,
    ...(endsAt !== undefined ? { endsAt } : {}),
  };
}

/** Queues one message per receiver for an alert; returns how many. */
export async function queueMessages(ctx: HubContext, tx: Db, alert: AlertInstance): Promise<number> {
  const now = ctx.now();
  for (const receiver of ctx.config.alerts.receivers) {
    await tx
      .insertInto('alert_deliveries')
      .values({
        id: newId(now),
        receiver: receiver.name,
        payload: JSON.stringify(webhookMessage(receiver.name, alert, ctx.publicUrl.current)),
        state: 'pending',
        attempts: 0,
        next_attempt_at: now.getTime(),
        created_at: now.toISOString(),
        delivered_at: null,
        last_error: null,
      })
      .execute();
  }
  return ctx.config.alerts.receivers.length;
}

/**
 * Resolves an SLO's firing alerts because the SLO is going away (in the caller's transaction), so no
 * receiver is left holding an alert that will never resolve.
 */
export async function resolveAlertsOf(ctx: HubContext, tx: Db, spec: SloSpec): Promise<void> {
  const firing = await tx
    .selectFrom('slo_alerts')
    .selectAll()
    .where('slo', '=', spec.name)
    .where('status', '=', 'firing')
    .execute();
  for (const a of firing) {
    const rule = ctx.config.alerts.burnRules.find((r) => r.kind === a.kind);
    if (!rule) continue;
    const v: BurnVerdict = { rule, long: a.burn_long, short: a.burn_short, firing: false };
    const alert = instance(spec, v, 'resolved', a.started_at, ctx.now().toISOString());
    alert.annotations.summary = `SLO ${spec.name} was deleted`;
    await queueMessages(ctx, tx, alert);
  }
}
