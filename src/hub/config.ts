// The hub's configuration: what an operator or a test may set, the defaults, and the one function that
// fills them in. Plain data, read by everything and changed by nothing once the hub is built.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectivityThresholds } from '../model/site.ts';
import { defaultThresholds } from '../model/site.ts';
import { type BundleLimits, defaultLimits } from './bundles/revisions.ts';
import type { ReplicaOptions } from './coordination.ts';
import { type BurnRule, defaultBurnRules } from './slo/core/budget.ts';
import type { PostgresOptions } from './store/postgres.ts';
import type { RemoteWriteConfig } from './telemetry/remote-write.ts';

export interface HubConnectivityConfig extends ConnectivityThresholds {
  /** how often the sweeper moves silent sites to Stale / Offline; 0 turns it off (tests sweep by hand) */
  sweepIntervalMs: number;
  /**
   * how often a hub writes the contacts it heard (last_seen_at) in one statement; the sweep allows a
   * contact this much lag, since another replica may not have written its own yet
   */
  lastSeenFlushMs: number;
}

export interface HubEventsConfig {
  /** events older than this are dropped by the sweeper */
  retentionMs: number;
  /** an event stream sends a comment this often so proxies keep it open and clients see it alive */
  streamHeartbeatMs: number;
}

export interface HubPlacementConfig {
  /**
   * sites placed per transaction: a fleet-wide placement runs as many short transactions, so reports
   * never wait long for the rows it writes (on PostgreSQL the most a transaction takes, see below)
   */
  sitesPerTransaction: number;
  /**
   * on PostgreSQL, how long a transaction should hold its sites' rows, ms: each chunk's size follows
   * how long the last one took (placement/chunking.ts); 0 keeps sitesPerTransaction throughout
   */
  transactionTargetMs: number;
  /** on PostgreSQL, the fewest sites a transaction takes however slow the last one was */
  minSitesPerTransaction: number;
}

export interface HubRolloutsConfig {
  /** how often the controller moves running rollouts on; 0 turns it off (tests tick by hand) */
  tickIntervalMs: number;
}

export interface HubTelemetryConfig {
  /** batch ids are remembered this long, so a resend within it is recognised */
  batchRetentionMs: number;
  /** per-site 5-minute SLI buckets are kept this long (rollout gates, a site's SLI chart, worst sites) */
  siteRetentionMs: number;
  /** per-SLO 5-minute totals are kept this long; also the longest SLO window accepted */
  sloRetentionMs: number;
  /** the largest telemetry body once inflated: a gzip bomb is cut off here */
  maxInflatedBytes: number;
  /** rollout gates read each site's SLIs over this much of the recent past */
  gateWindowMs: number;
  /** forward samples to an external TSDB with Prometheus remote-write */
  remoteWrite?: RemoteWriteConfig;
}

/** A user at a chart registry or repository, its password in a variable of the hub's environment. */
export interface HelmLogin {
  host: string;
  username: string;
  passwordEnv: string;
}

export interface HubGeneratorsConfig {
  /** the helm executable (v4); `helm` on the hub's PATH when unset */
  helm?: string;
  /** the standalone kustomize executable (v5); `kustomize` on the hub's PATH when unset */
  kustomize?: string;
  /** let kustomizations name git or HTTP bases, fetched by kustomize itself */
  kustomizeRemoteBases: boolean;
  /** OCI registries (HOST:PORT) charts are pulled from over plain HTTP */
  helmPlainHttp: string[];
  /** who the hub is at the chart registries and repositories that need it, by host (HOST or HOST:PORT) */
  helmLogins: HelmLogin[];
  /** longest one helm or kustomize run may take */
  timeoutMs: number;
  /** how often the leader renders the chart inputs placement asked for; 0 turns it off */
  renderIntervalMs: number;
}

export interface HubAlertsConfig {
  /** how often SLO alerts are evaluated, webhooks delivered and telemetry pruned; 0 turns it off */
  intervalMs: number;
  /** Alertmanager-compatible webhook receivers; every alert goes to each of them */
  receivers: { name: string; url: string }[];
  /** a firing alert is sent again after this long */
  repeatIntervalMs: number;
  /** first retry delay of a failed delivery; doubles each time up to retryMaxMs */
  retryBaseMs: number;
  retryMaxMs: number;
  /** a delivery is given up (state failed) after this many attempts */
  maxAttempts: number;
  /** multi-window burn-rate rules (slo/core/budget.ts) */
  burnRules: BurnRule[];
}

export interface HubReleasesConfig {
  /**
   * the public half of the release key (base64 SPKI or PEM): releases are accepted only when signed with
   * it, and join tokens carry it so sites pin it; without one the hub takes no releases
   */
  publicKey?: string;
  /** the largest release tarball accepted, in bytes */
  maxBytes: number;
}

export interface HubConfig {
  /** SQLite file path or ':memory:', or a postgres:// URL shared by several replicas */
  database: string;
  /** PostgreSQL only: pool size and timeouts (defaults in store/postgres.ts) */
  postgres?: PostgresOptions & ReplicaOptions;
  /** longest an agent's long-poll is held open */
  maxWaitSeconds: number;
  /** lifetime of a site's client certificate; agents renew at two thirds of it */
  certificateValidityDays: number;
  connectivity: HubConnectivityConfig;
  /** label keys whose values get their own status aggregates (keep them low-cardinality) */
  aggregateLabels: string[];
  events: HubEventsConfig;
  rollouts: HubRolloutsConfig;
  placement: HubPlacementConfig;
  /** bundle size and object-count limits, for apply, git sync and plan alike */
  limits: BundleLimits;
  /** where remote git repositories and the source trees tools read are kept; a temporary folder when unset */
  sourcesDir?: string;
  /** the most files and bytes one revision of a source may hold under its folder */
  sourceLimits: { maxFiles: number; maxBytes: number };
  /** the tools that generate manifests: Helm for chart bundles, Kustomize for kustomization bundles */
  generators: HubGeneratorsConfig;
  telemetry: HubTelemetryConfig;
  alerts: HubAlertsConfig;
  /**
   * whether /metrics answers without an API token; by default a scraper needs a viewer token, since the
   * agents' port is reachable from every store and the fleet's shape is nobody else's business
   */
  metricsPublic: boolean;
  /** agent releases (outpost agent release push) */
  releases: HubReleasesConfig;
  /**
   * how desired states a relay serves are signed: `tree`, one signature per relay answer over a Merkle
   * root with a proof per site (agents from this release on); `per-site`, one signature per site, which
   * every agent verifies (for a fleet whose agents behind relays are older; about 55 µs of hub CPU a site)
   */
  relaySignatures: 'tree' | 'per-site';
}

export const defaultHubConfig = {
  maxWaitSeconds: 55,
  certificateValidityDays: 30,
  connectivity: { ...defaultThresholds, sweepIntervalMs: 10_000, lastSeenFlushMs: 1_000 },
  aggregateLabels: ['region', 'format'],
  events: { retentionMs: 30 * 24 * 3600_000, streamHeartbeatMs: 15_000 },
  rollouts: { tickIntervalMs: 5_000 },
  placement: { sitesPerTransaction: 500, transactionTargetMs: 100, minSitesPerTransaction: 100 },
  limits: defaultLimits,
  sourceLimits: { maxFiles: 10_000, maxBytes: 64 * 1024 * 1024 },
  generators: {
    kustomizeRemoteBases: false,
    helmPlainHttp: [],
    helmLogins: [],
    timeoutMs: 60_000,
    renderIntervalMs: 1_000,
  },
  metricsPublic: false,
  releases: { maxBytes: 128 * 1024 * 1024 },
  relaySignatures: 'tree',
  telemetry: {
    batchRetentionMs: 7 * 24 * 3600_000,
    siteRetentionMs: 48 * 3600_000,
    sloRetentionMs: 35 * 24 * 3600_000,
    maxInflatedBytes: 32 * 1024 * 1024,
    gateWindowMs: 15 * 60_000,
  },
  alerts: {
    intervalMs: 30_000,
    receivers: [],
    repeatIntervalMs: 4 * 3600_000,
    retryBaseMs: 5_000,
    retryMaxMs: 10 * 60_000,
    maxAttempts: 12,
    burnRules: [...defaultBurnRules],
  },
} satisfies Partial<HubConfig>;

/** The URL agents are told to call when none is configured (and the hub has not listened yet). */
export const defaultPublicUrl = 'https://127.0.0.1:7070';

export type ConfigInput = Omit<HubConfig, keyof typeof defaultHubConfig> & {
  /** the URL agents are told to call (goes into join tokens); see HubContext.publicUrl */
  publicUrl?: string;
  maxWaitSeconds?: number;
  certificateValidityDays?: number;
  connectivity?: Partial<HubConnectivityConfig>;
  aggregateLabels?: string[];
  events?: Partial<HubEventsConfig>;
  rollouts?: Partial<HubRolloutsConfig>;
  placement?: Partial<HubPlacementConfig>;
  limits?: Partial<BundleLimits>;
  sourceLimits?: Partial<HubConfig['sourceLimits']>;
  generators?: Partial<HubGeneratorsConfig>;
  telemetry?: Partial<HubTelemetryConfig>;
  alerts?: Partial<HubAlertsConfig>;
  metricsPublic?: boolean;
  releases?: Partial<HubReleasesConfig>;
  relaySignatures?: HubConfig['relaySignatures'];
};

/** The configuration with every unset part taken from the defaults (nested parts field by field). */
export function withDefaults(config: ConfigInput): HubConfig {
  const { publicUrl: _, ...rest } = config;
  return {
    ...defaultHubConfig,
    ...rest,
    connectivity: { ...defaultHubConfig.connectivity, ...config.connectivity },
    aggregateLabels: config.aggregateLabels ?? defaultHubConfig.aggregateLabels,
    events: { ...defaultHubConfig.events, ...config.events },
    rollouts: { ...defaultHubConfig.rollouts, ...config.rollouts },
    placement: { ...defaultHubConfig.placement, ...config.placement },
    limits: { ...defaultHubConfig.limits, ...config.limits },
    sourceLimits: { ...defaultHubConfig.sourceLimits, ...config.sourceLimits },
    generators: { ...defaultHubConfig.generators, ...config.generators },
    telemetry: { ...defaultHubConfig.telemetry, ...config.telemetry },
    alerts: { ...defaultHubConfig.alerts, ...config.alerts },
    releases: { ...defaultHubConfig.releases, ...config.releases },
  };
}

/** Where remote repositories, source trees and charts are kept on this hub's disk. */
export function sourcesDirOf(config: HubConfig): string {
  return config.sourcesDir ?? join(tmpdir(), 'outpost-sources');
}
