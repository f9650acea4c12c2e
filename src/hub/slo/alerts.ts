// SLO alerts: each SLO's burn rules are evaluated on the hub's telemetry timer; firing and resolved are
// persisted per (SLO, rule), become events, and queue Alertmanager webhook messages for every receiver —
// a firing alert again only after the repeat interval, a resolution once.

import type { NewEvent } from '../../model/event.ts';
import type { SloSpec } from '../../model/slo-wire.ts';
import type { HubContext } from '../context.ts';
import { insertEvents } from '../status/events.ts';
import type { SloAlertTable } from '../store/schema.ts';
import type { BurnVerdict } from './core/budget.ts';
import { notification } from './core/notify.ts';
import { instance, queueMessages } from './notifications.ts';
import { parseStoredSlo, sloState } from './slos.ts';

/** Evaluates every SLO once; returns how many webhook messages were queued. */
export async function evaluateSloAlerts(ctx: HubContext): Promise<number> {
  const slos = await ctx.store.db.selectFrom('slos').select('spec').orderBy('name').execute();
  let queued = 0;
  for (const row of slos) {
    const spec = parseStoredSlo(row.spec);
    const { verdicts } = await sloState(ctx, spec, { withWindow: false });
    const r = await recordVerdicts(ctx, spec, verdicts);
    queued += r.queued;
    if (r.events > 0) ctx.events.notify();
  }
  return queued;
}

async function recordVerdicts(
  ctx: HubContext,
  spec: SloSpec,
  verdicts: BurnVerdict[],
): Promise<{ queued: number; events: number }> {
  const now = ctx.now();
  const iso = now.toISOString();
  return ctx.store.db.transaction().execute(async (tx) => {
    let queued = 0;
    const events: NewEvent[] = [];
    for (const v of verdicts) {
      const kind = v.rule.kind;
      const last = await tx
        .selectFrom('slo_alerts')
        .selectAll()
        .where('slo', '=', spec.name)
        .where('kind', '=', kind)
        .executeTakeFirst();
      const memory = last
        ? { status: last.status as 'firing' | 'resolved', notifiedAt: last.notified_at }
        : undefined;
      const send = notification(memory, v.firing, now, ctx.config.alerts.repeatIntervalMs);
      const startedAt = last?.status === 'firing' ? last.started_at : iso;
      // compare-and-set on the row as read: when two hubs evaluate at once, one writes, notifies and
      // raises the event; the other changes nothing
      const cas = async (set: Partial<SloAlertTable>): Promise<boolean> => {
        if (!last) {
          const r = await tx
            .insertInto('slo_alerts')
            .values({
              slo: spec.name,
              kind,
              status: 'firing',
              started_at: iso,
              ended_at: null,
              burn_long: null,
              burn_short: null,
              notified_at: null,
              ...set,
            })
            .onConflict((oc) => oc.columns(['slo', 'kind']).doNothing())
            .executeTakeFirst();
          return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
        }
        let q = tx
          .updateTable('slo_alerts')
          .set(set)
          .where('slo', '=', spec.name)
          .where('kind', '=', kind)
          .where('status', '=', last.status)
          .where('started_at', '=', last.started_at);
        q =
          last.notified_at === null
            ? q.where('notified_at', 'is', null)
            : q.where('notified_at', '=', last.notified_at);
        return Number((await q.executeTakeFirst()).numUpdatedRows) === 1;
      };
      if (v.firing) {
        const written = await cas({
          status: 'firing',
          started_at: startedAt,
          ended_at: null,
          burn_long: v.long,
          burn_short: v.short,
          notified_at: send ? iso : (last?.notified_at ?? null),
        });
        if (!written) continue;
        if (last?.status !== 'firing') {
          events.push({
            type: 'slo_alert_firing',
            bundle: spec.bundle,
            message: `SLO ${spec.name}: ${kind} burn (${v.long?.toFixed(2)}× over ${v.rule.longMs / 60_000}m)`,
            details: { slo: spec.name, kind, burnLong: v.long, burnShort: v.short },
          });
        }
      } else if (last?.status === 'firing') {
        if (!(await cas({ status: 'resolved', ended_at: iso, burn_long: v.long, burn_short: v.short })))
          continue;
        events.push({
          type: 'slo_alert_resolved',
          bundle: spec.bundle,
          message: `SLO ${spec.name}: ${kind} burn resolved`,
          details: { slo: spec.name, kind },
        });
      }
      if (!send) continue;
      const alert = instance(spec, v, send, startedAt, send === 'resolved' ? iso : undefined);
      queued += await queueMessages(ctx, tx, alert);
    }
    await insertEvents(ctx, tx, events);
    return { queued, events: events.length };
  });
}
