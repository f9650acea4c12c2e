// The hub's tables as Kysely sees them. Timestamps are ISO-8601 text and JSON columns are text, so the
// same rows read back identically from SQLite and PostgreSQL.

import type { Generated, Kysely } from 'kysely';

export interface SiteTable {
  id: string;
  name: string;
  labels: string;
  properties: string;
  facts: string;
  lifecycle: string;
  registered_at: string;
  last_seen_at: string | null;
  desired_digest: string | null;
  last_report_seq: number;
  machine_id: string | null;
  cert_expires_at: string | null;
  ticket_hash: string | null;
  pending_csr: string | null;
  issued_cert: string | null;
  /** stored so each change is a transition (an event and aggregate deltas); see model/site.ts */
  connectivity: string;
  connectivity_since: string | null;
  last_report_at: string | null;
  /** worst state over the site's placed deployments; null with none */
  worst_state: string | null;
  /** 0 when nothing needs attention; higher is more urgent (status/aggregate.ts attentionOf) */
  attention_rank: number;
  attention_reason: string | null;
  attention_detail: string | null;
  attention_since: string | null;
  /** the site's sealing public key (base64url X25519) and when it was last set; null until sent */
  sealing_key: string | null;
  sealing_key_at: string | null;
  /** what the agent last reported beneath its bundles (model/site-stack.ts SiteStack, JSON); null until then */
  stack: string | null;
  stack_at: string | null;
  /** the relay whose batch last said it heard from the site; it comes through that relay while via_relay_at >= last_seen_at */
  via_relay_id: string | null;
  via_relay_at: string | null;
  /** reports the site's agents dropped from a full outbox, over every install of the machine */
  dropped_reports: number;
  /** the part of dropped_reports counted by earlier installs (the current agent's count starts above it) */
  dropped_reports_before: number;
}

export interface BootstrapTokenTable {
  id: string;
  secret_hash: string;
  description: string;
  labels: string;
  auto_approve: number;
  max_uses: number;
  uses: number;
  expires_at: string;
  revoked_at: string | null;
  created_at: string;
  created_by: string;
}

export interface CertificateTable {
  serial: string;
  site_id: string;
  fingerprint: string;
  not_before: string;
  not_after: string;
  revoked_at: string | null;
}

export interface ApiTokenTable {
  id: string;
  name: string;
  role: string;
  secret_hash: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  /** RoleBinding[] as JSON (model/access.ts); '[]' for tokens made before bindings: fleet-wide `role` */
  bindings: string;
}

export interface AuditTable {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  details: string;
  source: string;
}

export interface BundleTable {
  name: string;
  revision: number;
  namespace: string | null;
  selector: string;
  spec_digest: string;
  object_count: number;
  updated_at: string;
  /** the git source that owns the bundle; null when applied by hand */
  source: string | null;
  /** the team that owns the bundle (the applying token's team); a source's team counts when null */
  team?: string | null;
}

export interface BundleRevisionTable {
  bundle: string;
  revision: number;
  namespace: string | null;
  selector: string;
  objects: string;
  /** spec.apply as JSON, defaults filled in ('{}' for revisions made before it existed) */
  options: string;
  spec_digest: string;
  created_at: string;
  /** FleetSpec plus origins as JSON ('{}' for revisions made before fleet definitions) */
  fleet: string;
  source: string | null;
  source_commit: string | null;
}

export interface BlobTable {
  digest: string;
  content: string;
  created_at: string;
}

export interface DeploymentTable {
  site_id: string;
  bundle: string;
  desired_revision: number | null;
  desired_digest: string | null;
  applied_digest: string | null;
  state: string;
  message: string;
  total: number;
  applied: number;
  ready: number;
  not_ready: string;
  updated_at: string;
  /** why the current revision cannot be rendered or placed for this site; the site keeps what it runs */
  render_error: string | null;
  /** when `state` last changed */
  state_since: string | null;
}

export interface SourceTable {
  name: string;
  /** a git URL or path, or oci://HOST/REPOSITORY */
  url: string;
  /** git: the branch or tag; OCI: the tag (unused with semver) */
  ref: string;
  path: string;
  interval_seconds: number;
  /**
   * JSON: {username?, passwordEnv?, tokenEnv?} or, for SSH, {privateKeyFile | privateKeyEnv, knownHosts};
   * names environment variables and files, never secrets
   */
  auth: string;
  /** OCI: follow the highest tag in this semver range instead of `ref` */
  semver: string | null;
  /** OCI: 1 to reach the registry over plain HTTP */
  insecure: number;
  /** OCI: the cosign public key (PEM) every accepted revision must be signed with; null to take any */
  verify_key?: string | null;
  /** checks the webhook's HMAC or shared-secret header */
  webhook_secret: string;
  created_at: string;
  last_attempt_at: string | null;
  last_error: string | null;
  synced_commit: string | null;
  synced_at: string | null;
  rejected_commit: string | null;
  rejected_at: string | null;
  /** JSON list of {code, message, file?, line?} */
  rejected_errors: string | null;
  /** the team that owns every bundle of this source */
  team?: string | null;
}

export interface StatusAggregateTable {
  dimension: string;
  key: string;
  metric: string;
  count: number;
}

/** A count change not yet folded into status_aggregates (PostgreSQL only; readers add it in). */
export type StatusAggregateDeltaTable = StatusAggregateTable;

export interface StatusMetaTable {
  name: string;
  value: string;
}

export interface EventTable {
  id: Generated<number>;
  time: string;
  type: string;
  site: string | null;
  bundle: string | null;
  message: string;
  details: string;
}

export interface RolloutTable {
  id: string;
  bundle: string;
  from_revision: number;
  to_revision: number;
  /** the validated strategy, every default filled in (JSON) */
  strategy: string;
  /** RolloutState (JSON); `phase` repeats its phase for queries */
  state: string;
  phase: string;
  created_at: string;
  updated_at: string;
  created_by: string;
}

/** One SiteRow of a rollout (rollout/core/state.ts). */
export interface RolloutSiteTable {
  rollout_id: string;
  site_id: string;
  wave: number;
  status: string;
  started_at: string | null;
  /** JSON metrics, when the site had any when it started */
  baseline: string | null;
  reason: string | null;
  /** the revision the site ran when the rollout was planned; it stays there until started, and returns there on rollback */
  from_revision: number | null;
}

export interface TelemetryBatchTable {
  site_id: string;
  batch_id: string;
  /** Unix ms */
  received_at: number;
}

/** The agent's cumulative drop counts, as last reported. */
export interface TelemetryDropTable {
  site_id: string;
  sli: number;
  event: number;
  metric: number;
  debug: number;
  updated_at: string;
}

/** One site's SLIs for one bundle over 5 minutes (slo/core/buckets.ts); null = not reported. */
export interface SliSiteBucketTable {
  site_id: string;
  bundle: string;
  /** Unix ms, a multiple of the bucket length */
  bucket_start: number;
  requests: number | null;
  errors: number | null;
  slow: number | null;
  latency_max: number | null;
  saturation_max: number | null;
  samples: number;
}

/** A bundle's counts over the whole fleet for one hour: history for new fleet-wide SLOs. */
export interface SliBundleHourlyTable {
  bundle: string;
  hour_start: number;
  requests: number;
  errors: number;
  slow: number;
}

export interface SloTable {
  name: string;
  bundle: string;
  /** the SloSpec (JSON) */
  spec: string;
  created_at: string;
  updated_at: string;
  /** the source whose fleet repository defines it; null when made through the API */
  source: string | null;
}

/** A named rollout strategy a bundle's spec.rollout may name, beside the built-in ones. */
export interface RolloutStrategyTable {
  name: string;
  /** the strategy document as written (JSON); defaults are filled in when a rollout uses it */
  spec: string;
  /** the source whose fleet repository defines it; null when made through the API */
  source: string | null;
  created_at: string;
  updated_at: string;
}

/** A site profile: its name, current revision and where it comes from. */
export interface ProfileTable {
  name: string;
  revision: number;
  /** the source whose fleet repository defines it; null when made through the API */
  source: string | null;
  created_at: string;
  updated_at: string;
}

/** One immutable revision of a profile: its layers and placement as stored, with their digest. */
export interface ProfileRevisionTable {
  profile: string;
  revision: number;
  /** model/profile.ts ProfileSpec, JSON */
  spec: string;
  /** select/placement.ts PlacementRules, JSON */
  placement: string;
  digest: string;
  commit: string | null;
  created_at: string;
}

/** The profile revision one site is given: what its desired state's stack carries. */
export interface ProfileTargetTable {
  site_id: string;
  profile: string;
  revision: number;
  /** model/site-stack.ts StackTarget, JSON, as the site's desired state carries it */
  target: string;
  /** when the site was given this revision: its upgrade deadline counts from here */
  since: string;
  /** the site's conformance to the revision (Conformant, Upgrading, Behind, Ahead, Unknown), kept */
  state: string;
  /** each layer's conformance state; null for a layer the revision does not declare */
  layer_os: string | null;
  layer_kubernetes: string | null;
  layer_agent: string | null;
  layer_addons: string | null;
  layer_apps: string | null;
  /** when the conformance was last judged: a report or deployment change after it judges again */
  judged_at: string;
  /** since plus the revision's upgrade deadline: an Upgrading site past it is judged again */
  deadline_at: string;
}

/** A profile revision moving over the profile's sites: rollout/core's state, as a bundle rollout's. */
export interface ProfileRolloutTable {
  id: string;
  profile: string;
  from_revision: number;
  to_revision: number;
  /** model/rollout-strategy.ts RolloutStrategy, JSON, onFailure always pause */
  strategy: string;
  /** rollout/core/state.ts RolloutState, JSON */
  state: string;
  phase: string;
  created_at: string;
  updated_at: string;
  created_by: string;
}

/** One site of a profile rollout: its wave, status, and the revision it keeps until started. */
export interface ProfileRolloutSiteTable {
  rollout_id: string;
  site_id: string;
  wave: number;
  status: string;
  started_at: string | null;
  reason: string | null;
  from_revision: number;
}

/** One SLO's totals over its scope's sites for 5 minutes, kept for the SLO window. */
export interface SloBucketTable {
  slo: string;
  bucket_start: number;
  requests: number;
  errors: number;
  slow: number;
}

export interface SloAlertTable {
  slo: string;
  /** the burn rule: fast or slow */
  kind: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  burn_long: number | null;
  burn_short: number | null;
  /** when a firing notification was last queued (repeat interval) */
  notified_at: string | null;
}

/** A webhook message waiting for (or done with) delivery. */
export interface AlertDeliveryTable {
  id: string;
  receiver: string;
  /** Alertmanager webhook JSON */
  payload: string;
  /** pending | delivered | failed */
  state: string;
  attempts: number;
  /** Unix ms */
  next_attempt_at: number;
  created_at: string;
  delivered_at: string | null;
  last_error: string | null;
}

export interface RelayTable {
  id: string;
  name: string;
  /** JSON label selector: the sites the relay may serve */
  selector: string;
  /** sha256 of the one-time enrolment secret; null once used */
  enrol_hash: string | null;
  /** the client certificate the relay calls the hub with; null until enrolled */
  cert_serial: string | null;
  cert_not_after: string | null;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  last_seen_at: string | null;
  /** JSON: what the relay last said of itself (outbox, sites connected, uplink lag) */
  status: string | null;
  /** when the hub found the relay silent (one relay_lost event); null while it is heard from */
  lost_at: string | null;
}

/** An operator's credential for one site's tunnel (tunnel/sessions.ts). */
export interface TunnelSessionTable {
  id: string;
  site_id: string;
  /** the API token that opened it: revoking that token ends the session too */
  api_token_id: string;
  /** the token's name, as the audit log names who sent each request */
  operator: string;
  /** read | write */
  mode: string;
  secret_hash: string;
  created_at: string;
  expires_at: string;
}

/** Work queued for a site's agent (operations/operations.ts): an action or a log request. */
export interface SiteOperationTable {
  id: string;
  site_id: string;
  /** action | logs */
  kind: string;
  /** what to do, as the agent gets it (JSON) */
  spec: string;
  /** queued | running | done | failed | expired | cancelled */
  state: string;
  requested_by: string;
  requested_at: string;
  /** a queued operation not picked up by then expires; a running one is cut off */
  deadline_at: string;
  claimed_at: string | null;
  finished_at: string | null;
  /** the outcome in words (the agent's, or why it expired) */
  message: string | null;
  /** log bytes received so far */
  bytes: number;
}

export interface OperationLogChunkTable {
  operation_id: string;
  seq: number;
  data: string;
  received_at: string;
}

export interface AgentReleaseTable {
  version: string;
  digest: string;
  size: number;
  image: string | null;
  signature: string;
  created_at: string;
  created_by: string;
}

export interface AgentReleaseChunkTable {
  digest: string;
  seq: number;
  data: Uint8Array;
}

/** One ingested batch's samples waiting to be forwarded by remote-write (oldest id first). */
export interface RemoteWriteQueueTable {
  id: Generated<number>;
  site: string;
  /** JSON list of TelemetrySample */
  samples: string;
  sample_count: number;
}

/** A chart's files, by the digest of their paths and contents (generators/tree.ts treeDigest). */
export interface ChartSourceTable {
  digest: string;
  /** JSON list of {path, data (base64), executable} */
  files: string;
  created_at: string;
}

/** Helm's rendering of one set of chart inputs (render/generator-spec.ts ChartInputs), by their digest. */
export interface ChartRenderingTable {
  digest: string;
  /** the chart's digest (chart_sources) */
  chart: string;
  /** the chart as the operator knows it, for Helm's messages */
  chart_path: string;
  /** ChartInputs (JSON) */
  inputs: string;
  /** wanted | rendered | failed */
  state: string;
  /** ChartRendering (JSON): the objects and their origins, or Helm's refusal; null while wanted */
  result: string | null;
  created_at: string;
  rendered_at: string | null;
}

/** A bundle whose fleet-wide placement was asked for and has not finished (placement/place.ts). */
export interface PlacementDueTable {
  bundle: string;
  /** counts the requests: a run clears only the one it started after */
  generation: number;
  /** last request or last chunk placed; a row left alone long enough is a run that died */
  updated_at: string;
}

export interface Database {
  sites: SiteTable;
  bundles: BundleTable;
  bundle_revisions: BundleRevisionTable;
  blobs: BlobTable;
  deployments: DeploymentTable;
  bootstrap_tokens: BootstrapTokenTable;
  certificates: CertificateTable;
  api_tokens: ApiTokenTable;
  audit_log: AuditTable;
  sources: SourceTable;
  status_aggregates: StatusAggregateTable;
  status_aggregate_deltas: StatusAggregateDeltaTable;
  status_meta: StatusMetaTable;
  events: EventTable;
  rollouts: RolloutTable;
  rollout_sites: RolloutSiteTable;
  telemetry_batches: TelemetryBatchTable;
  telemetry_drops: TelemetryDropTable;
  sli_site_buckets: SliSiteBucketTable;
  sli_bundle_hourly: SliBundleHourlyTable;
  slos: SloTable;
  slo_buckets: SloBucketTable;
  slo_alerts: SloAlertTable;
  alert_deliveries: AlertDeliveryTable;
  relays: RelayTable;
  agent_releases: AgentReleaseTable;
  agent_release_chunks: AgentReleaseChunkTable;
  remote_write_queue: RemoteWriteQueueTable;
  rollout_strategies: RolloutStrategyTable;
  placement_due: PlacementDueTable;
  profiles: ProfileTable;
  profile_revisions: ProfileRevisionTable;
  profile_targets: ProfileTargetTable;
  profile_rollouts: ProfileRolloutTable;
  profile_rollout_sites: ProfileRolloutSiteTable;
  site_operations: SiteOperationTable;
  operation_log_chunks: OperationLogChunkTable;
  chart_sources: ChartSourceTable;
  chart_renderings: ChartRenderingTable;
  tunnel_sessions: TunnelSessionTable;
}

export type Db = Kysely<Database>;
