// The hub's Prometheus metrics on a registry of its own (so two hubs in one process never mix). Fleet
// gauges read the status aggregates at scrape time; histograms time requests by route template and
// store queries by kind. No label ever names a site: the series count does not grow with the fleet.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { deploymentStates } from '../model/deployment.ts';
import { connectivities, lifecycles } from '../model/site.ts';
import { conformanceCounts, layerCounts } from './profiles/conformance-kept.ts';
import { conformanceStates } from './profiles/core/conformance.ts';
import { readAggregates } from './status/aggregate-store.ts';
import type { Db } from './store/schema.ts';

const methods = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

export interface HubMetrics {
  registry: Registry;
  /** records one HTTP request; `route` is the route template, never the URL */
  observeRequest(method: string, route: string | undefined, status: number, seconds: number): void;
  /**
   * records how long after its end (its deadline passed, or a change woke it) a long-poll's answer was
   * written: the hub's own share of a late answer (timers, the store, the write)
   */
  observeLongPollAnswer(end: 'timeout' | 'change', seconds: number): void;
  /** records how long a long-poll took from its arrival to the start of its wait (authentication, reads) */
  observeLongPollStart(seconds: number): void;
  /** records one store query by its first SQL keyword */
  observeQuery(sql: string, seconds: number): void;
  /** connects the fleet gauges to a store (done once the store is open) */
  readFleetFrom(db: Db): void;
  telemetry: TelemetryMetrics;
  /** whether this replica runs the work that must run once (always, with SQLite) */
  setLeading(leading: boolean): void;
}

/** Counters of the telemetry path: ingest, agents' drops, remote-write and alert webhooks. */
export interface TelemetryMetrics {
  /** batches by result: accepted or duplicate */
  batches: Counter<'result'>;
  /** samples in accepted batches */
  samples: Counter;
  /** telemetry agents report they dropped, by class (from the growth of their cumulative counts) */
  agentDrops: Counter<'class'>;
  /** remote-write samples by result: sent, or dropped (queue full or refused) */
  remoteWrite: Counter<'result'>;
  /** webhook delivery attempts by result: delivered, retry, failed */
  deliveries: Counter<'result'>;
}

function operationOf(sql: string): string {
  const word = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase();
  return word === 'select' || word === 'insert' || word === 'update' || word === 'delete' ? word : 'other';
}

export function createHubMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let db: Db | undefined;

  const requestDuration = new Histogram({
    name: 'outpost_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status class',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [registry],
  });
  const queryDuration = new Histogram({
    name: 'outpost_store_query_duration_seconds',
    help: 'Store queries by kind (select, insert, update, delete, other)',
    labelNames: ['operation'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });

  const longPollAnswer = new Histogram({
    name: 'outpost_long_poll_answer_delay_seconds',
    help: "Time from a long-poll's end (deadline or wake-up) to its answer written, by how it ended",
    labelNames: ['end'] as const,
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });

  const longPollStart = new Histogram({
    name: 'outpost_long_poll_wait_start_seconds',
    help: "Time from a long-poll's arrival to the start of its wait (authentication, reads)",
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });

  const leader = new Gauge({
    name: 'outpost_hub_leader',
    help: '1 while this hub replica runs the work that must run once (sweeps, rollout ticks, git polls)',
    registers: [registry],
  });
  // one series per value of a fleet-wide count (status_aggregates cells named `${label}:${value}`)
  const fleetGauge = (name: string, help: string, label: string, values: readonly string[]) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        if (!db) return;
        const counts = new Map((await readAggregates(db, 'fleet')).map((c) => [c.metric, c.count]));
        for (const v of values) this.set({ [label]: v }, counts.get(`${label}:${v}`) ?? 0);
      },
    });
  fleetGauge('outpost_sites', 'Active sites by connectivity', 'connectivity', connectivities);
  fleetGauge('outpost_sites_by_lifecycle', 'Sites by lifecycle', 'lifecycle', lifecycles);
  fleetGauge('outpost_deployments', 'Placed deployments by state', 'state', deploymentStates);
  new Gauge({
    name: 'outpost_bundle_deployments',
    help: 'Placed deployments of each bundle by state',
    labelNames: ['bundle', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!db) return;
      this.reset();
      const bundles = await db.selectFrom('bundles').select('name').execute();
      const counts = new Map(
        (await readAggregates(db, 'bundle')).map((c) => [`${c.key}\u0000${c.metric}`, c.count]),
      );
      for (const b of bundles) {
        for (const s of deploymentStates) {
          this.set({ bundle: b.name, state: s }, counts.get(`${b.name}\u0000state:${s}`) ?? 0);
        }
      }
    },
  });
  new Gauge({
    name: 'outpost_bundle_current_revision_deployments',
    help: "Deployments at their bundle's current revision by state: how far the latest change has got",
    labelNames: ['bundle', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!db) return;
      this.reset();
      const bundles = await db.selectFrom('bundles').select(['name', 'revision']).execute();
      const counts = new Map(
        (await readAggregates(db, 'revision')).map((c) => [`${c.key}\u0000${c.metric}`, c.count]),
      );
      for (const b of bundles) {
        for (const s of deploymentStates) {
          const n = counts.get(`${b.name}@${Number(b.revision)}\u0000state:${s}`) ?? 0;
          this.set({ bundle: b.name, state: s }, n);
        }
      }
    },
  });
  new Gauge({
    name: 'outpost_profile_sites',
    help: 'Sites following each profile by their conformance to the revision they are given',
    labelNames: ['profile', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!db) return;
      this.reset();
      const profiles = await db.selectFrom('profiles').select('name').execute();
      const kept = await conformanceCounts(db);
      for (const p of profiles) {
        for (const state of conformanceStates)
          this.set({ profile: p.name, state }, kept.get(p.name)?.get(state) ?? 0);
      }
    },
  });
  new Gauge({
    name: 'outpost_profile_layer_sites',
    help: 'Sites following each profile by the conformance of each layer the profile declares',
    labelNames: ['profile', 'layer', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!db) return;
      this.reset();
      for (const c of await layerCounts(db))
        this.set({ profile: c.profile, layer: c.layer, state: c.state }, c.sites);
    },
  });
  new Gauge({
    name: 'outpost_label_sites',
    help: 'Active sites by connectivity for each value of the aggregated labels (aggregateLabels)',
    labelNames: ['label', 'value', 'connectivity'] as const,
    registers: [registry],
    async collect() {
      if (!db) return;
      this.reset();
      const byValue = new Map<string, Map<string, number>>();
      for (const c of await readAggregates(db, 'label')) {
        const counts = byValue.get(c.key) ?? new Map<string, number>();
        counts.set(c.metric, c.count);
        byValue.set(c.key, counts);
      }
      for (const [key, counts] of byValue) {
        if ((counts.get('sites') ?? 0) === 0) continue;
        const i = key.indexOf('=');
        for (const c of connectivities) {
          this.set(
            { label: key.slice(0, i), value: key.slice(i + 1), connectivity: c },
            counts.get(`connectivity:${c}`) ?? 0,
          );
        }
      }
    },
  });
  new Gauge({
    name: 'outpost_reports_dropped_at_sites_total',
    help: "Reports agents dropped because their outbox was full, summed over the fleet's sites (each site's is in its detail)",
    registers: [registry],
    async collect() {
      if (!db) return;
      // the partial index on dropped_reports > 0 makes this a read of the sites that dropped any
      const { total } = await db
        .selectFrom('sites')
        .select((eb) => eb.fn.sum<number | string | null>('dropped_reports').as('total'))
        .where('dropped_reports', '>', 0)
        .executeTakeFirstOrThrow();
      this.set(Number(total ?? 0));
    },
  });

  const telemetry: TelemetryMetrics = {
    batches: new Counter({
      name: 'outpost_telemetry_batches_total',
      help: 'Telemetry batches received, by result (accepted, duplicate)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    samples: new Counter({
      name: 'outpost_telemetry_samples_total',
      help: 'Samples in accepted telemetry batches',
      registers: [registry],
    }),
    agentDrops: new Counter({
      name: 'outpost_telemetry_agent_dropped_total',
      help: "Telemetry agents' buffers dropped, by class, as they reported it",
      labelNames: ['class'] as const,
      registers: [registry],
    }),
    remoteWrite: new Counter({
      name: 'outpost_remote_write_samples_total',
      help: 'Samples forwarded by Prometheus remote-write, by result (sent, dropped)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'outpost_alert_webhook_attempts_total',
      help: 'Alert webhook delivery attempts, by result (delivered, retry, failed)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  };

  return {
    registry,
    telemetry,
    observeRequest(method, route, status, seconds) {
      requestDuration.observe(
        {
          method: methods.has(method) ? method : 'other',
          route: route ?? 'unmatched',
          status_class: `${Math.floor(status / 100)}xx`,
        },
        seconds,
      );
    },
    observeLongPollAnswer(end, seconds) {
      longPollAnswer.observe({ end }, seconds);
    },
    observeLongPollStart(seconds) {
      longPollStart.observe(seconds);
    },
    observeQuery(sql, seconds) {
      queryDuration.observe({ operation: operationOf(sql) }, seconds);
    },
    readFleetFrom(store) {
      db = store;
    },
    setLeading(leading) {
      leader.set(leading ? 1 : 0);
    },
  };
}
