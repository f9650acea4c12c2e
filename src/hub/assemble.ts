// Builds the hub's context from its configuration: opens the store, brings the status aggregates up to
// date, joins the other replicas on PostgreSQL, and owns what it started until the context is closed.
// Tests build the same context with overrides (clock, TLS) instead of patching modules.

import { DisposableStore } from '../base/lifecycle.ts';
import { type ConfigInput, defaultPublicUrl, withDefaults } from './config.ts';
import type { HubContext } from './context.ts';
import { type Coordination, ReplicaCoordination, singleProcess } from './coordination.ts';
import { DesiredWatch } from './desired-watch.ts';
import { ephemeralTls } from './identity/ca.ts';
import { LogSink } from './log-sink.ts';
import { createHubMetrics } from './metrics.ts';
import { WorkSignal } from './operations/work-signal.ts';
import { Periodic } from './periodic.ts';
import { CertificateSites } from './sites/certificate-sites.ts';
import { EventFeed } from './status/events.ts';
import { LastSeen } from './status/last-seen.ts';
import { ensureAggregates } from './status/rebuild.ts';
import { ReportBatcher } from './status/report-batcher.ts';
import { ingestReports } from './status/reports.ts';
import { openStore } from './store/index.ts';
import { RemoteWriter } from './telemetry/remote-write.ts';

/** What a test or the hub process may supply instead of the defaults. */
export type HubOverrides = Partial<Pick<HubContext, 'now' | 'tls'>>;

/**
 * The hub's context, complete: every part made, the aggregates current, the replica session (on
 * PostgreSQL) started. If any step fails, what the earlier steps started is closed before the error goes on.
 *
 * @example
 * const ctx = await contextFromConfig({ database: ':memory:' });
 * try { await applyBundle(ctx, actor, files); } finally { await ctx.close(); }
 */
export async function contextFromConfig(
  input: ConfigInput,
  overrides: HubOverrides = {},
): Promise<HubContext> {
  const config = withDefaults(input);
  const owned = new DisposableStore();
  try {
    const now = overrides.now ?? (() => new Date());
    const metrics = createHubMetrics();
    const log = new LogSink();
    const store = owned.add(await openStore(config.database, metrics.observeQuery, config.postgres));
    metrics.readFleetFrom(store.db);
    await ensureAggregates({ config, store });
    // Replicas on PostgreSQL relay wake-ups to each other and elect a leader; SQLite has one process.
    const replica =
      store.engine === 'postgres' && store.url
        ? owned.add(new ReplicaCoordination(store.url, store.db, config.postgres))
        : undefined;
    const coordination: Coordination = replica ?? singleProcess;
    const desiredWatch = new DesiredWatch((ids) => coordination.publishDesired(ids));
    const certificateSites = owned.add(
      new CertificateSites(desiredWatch, now, config.connectivity.staleAfterMs),
    );
    const events = new EventFeed(() => coordination.publishEvents());
    const work = new WorkSignal(
      (ids) => desiredWatch.wake(ids),
      (ids) => coordination.publishWork(ids),
    );
    await work.load(store.db);
    // contacts still in memory are written before the store closes, after the timer has stopped
    const lastSeen = new LastSeen(store.db);
    owned.add(() => lastSeen.flush());
    owned
      .add(
        new Periodic(
          () => lastSeen.flush(),
          () => config.connectivity.lastSeenFlushMs,
          (err) => log.info('could not store when sites were last seen', { error: (err as Error).message }),
        ),
      )
      .start();
    const remoteWrite = config.telemetry.remoteWrite
      ? owned.add(
          new RemoteWriter(config.telemetry.remoteWrite, metrics, {
            db: store.db,
            leading: () => coordination.leading,
          }),
        )
      : undefined;
    remoteWrite?.start();
    const ctx: HubContext = {
      config,
      publicUrl: { current: input.publicUrl ?? defaultPublicUrl },
      store,
      tls: overrides.tls ?? ephemeralTls(now()),
      desiredWatch,
      certificateSites,
      events,
      work,
      metrics,
      lastSeen,
      // ingesting a report moves rollouts, aggregates and events, so it needs the whole context: the
      // batcher only queues and calls back into it once built
      reports: new ReportBatcher((reports) => ingestReports(ctx, reports)),
      remoteWrite,
      coordination,
      log,
      now,
      close: () => owned.dispose(),
    };
    if (!replica) metrics.setLeading(true);
    else {
      await replica.start({
        desired: (ids) => desiredWatch.wake(ids),
        events: () => events.wake(),
        work: (ids) => work.received(ids),
        sites: (ids) => certificateSites.forget(ids),
        resync: () => {
          certificateSites.clear();
          desiredWatch.wakeAll();
          events.wake();
          work
            .load(store.db)
            .catch((e: Error) => log.info('could not reload waiting operations', { error: e.message }));
        },
        leaderChanged: (leading) => {
          metrics.setLeading(leading);
          log.info(leading ? 'this replica now leads' : 'this replica no longer leads');
        },
        log: (message, fields) => log.info(message, fields),
      });
    }
    return ctx;
  } catch (e) {
    await owned.dispose();
    throw e;
  }
}
