// Everything a hub request or background job needs, wired in one place (fromConfig); tests build the
// same context with overrides instead of patching modules.

import type { ConnectivityThresholds } from '../model/site.ts';
import { defaultThresholds } from '../model/site.ts';
import { DesiredWatch } from './desired-watch.ts';
import { createHubMetrics, type HubMetrics } from './metrics.ts';
import { EventFeed } from './status/events.ts';
import { ensureAggregates } from './status/rebuild.ts';
import { ReportBatcher } from './status/report-batcher.ts';
import { openStore, type Store } from './store/index.ts';

export interface HubConnectivityConfig extends ConnectivityThresholds {
  /** how often the sweeper moves silent sites to Stale / Offline; 0 turns it off (tests sweep by hand) */
  sweepIntervalMs: number;
}

export interface HubEventsConfig {
  /** events older than this are dropped by the sweeper */
  retentionMs: number;
  /** an event stream sends a comment this often so proxies keep it open and clients see it alive */
  streamHeartbeatMs: number;
}

export interface HubConfig {
  /** SQLite file path or ':memory:' */
  database: string;
  /** bearer token operators present on /api/v1 */
  operatorToken: string;
  /** shared token a new site presents once to register (the identity issue replaces it) */
  registrationToken: string;
  /** longest an agent's long-poll is held open */
  maxWaitSeconds: number;
  connectivity: HubConnectivityConfig;
  /** label keys whose values get their own status aggregates (keep them low-cardinality) */
  aggregateLabels: string[];
  events: HubEventsConfig;
}

export interface HubContext {
  config: HubConfig;
  store: Store;
  desiredWatch: DesiredWatch;
  /** wakes event streams after events commit; closed with the server */
  events: EventFeed;
  metrics: HubMetrics;
  /** agents' reports, ingested in group-committed batches */
  reports: ReportBatcher;
  now: () => Date;
}

export const defaultHubConfig = {
  maxWaitSeconds: 55,
  connectivity: { ...defaultThresholds, sweepIntervalMs: 10_000 },
  aggregateLabels: ['region', 'format'],
  events: { retentionMs: 30 * 24 * 3600_000, streamHeartbeatMs: 15_000 },
} satisfies Partial<HubConfig>;

type ConfigInput = Omit<HubConfig, keyof typeof defaultHubConfig> & {
  maxWaitSeconds?: number;
  connectivity?: Partial<HubConnectivityConfig>;
  aggregateLabels?: string[];
  events?: Partial<HubEventsConfig>;
};

export async function contextFromConfig(
  config: ConfigInput,
  overrides: Partial<Omit<HubContext, 'config'>> = {},
): Promise<HubContext> {
  const full: HubConfig = {
    ...defaultHubConfig,
    ...config,
    connectivity: { ...defaultHubConfig.connectivity, ...config.connectivity },
    aggregateLabels: config.aggregateLabels ?? defaultHubConfig.aggregateLabels,
    events: { ...defaultHubConfig.events, ...config.events },
  };
  const metrics = overrides.metrics ?? createHubMetrics();
  const hub = {
    config: full,
    store: overrides.store ?? (await openStore(full.database, metrics.observeQuery)),
    desiredWatch: overrides.desiredWatch ?? new DesiredWatch(),
    events: overrides.events ?? new EventFeed(),
    metrics,
    now: overrides.now ?? (() => new Date()),
  } as HubContext;
  hub.reports = overrides.reports ?? new ReportBatcher(hub);
  metrics.readFleetFrom(hub.store.db);
  await ensureAggregates(hub);
  return hub;
}
