// The source poller: one owned timer that syncs every source whose interval has passed since its last
// attempt. Started by the hub and stopped when it closes; a sync that fails is retried next interval.

import type { HubContext } from '../context.ts';
import { Periodic } from '../periodic.ts';
import { syncSource } from './sources.ts';

export interface SourcePoller {
  /** stops the timer and waits for a sync in progress */
  close(): Promise<void>;
}

const actor = { name: 'hub:poller', source: 'hub' };

/** Checks for due sources every `tickMs` (default 1 s); logs to the hub's log. */
export function startSourcePoller(ctx: HubContext, opts: { tickMs?: number } = {}): SourcePoller {
  let closed = false;
  const tick = async () => {
    // replicas on one PostgreSQL: only the leader syncs
    if (!ctx.coordination.leading) return;
    const now = ctx.now().getTime();
    const sources = await ctx.store.db
      .selectFrom('sources')
      .select(['name', 'interval_seconds', 'last_attempt_at'])
      .execute();
    for (const s of sources) {
      if (closed) return;
      const last = s.last_attempt_at ? Date.parse(s.last_attempt_at) : 0;
      if (now - last < Number(s.interval_seconds) * 1000) continue;
      const result = await syncSource(ctx, actor, s.name);
      if (result.status !== 'unchanged') {
        ctx.log.info('source sync', { source: s.name, status: result.status, commit: result.commit });
      }
    }
  };
  const timer = new Periodic(
    tick,
    () => opts.tickMs ?? 1000,
    (e) => ctx.log.info('source poll failed', { error: (e as Error).message }),
  );
  timer.start();
  return {
    async close() {
      closed = true;
      await timer.close();
    },
  };
}
