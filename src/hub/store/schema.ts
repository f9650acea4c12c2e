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
  credential_hash: string;
  registered_at: string;
  last_seen_at: string | null;
  desired_digest: string | null;
  last_report_seq: number;
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
}

export interface BundleTable {
  name: string;
  revision: number;
  namespace: string | null;
  selector: string;
  spec_digest: string;
  object_count: number;
  updated_at: string;
}

export interface BundleRevisionTable {
  bundle: string;
  revision: number;
  namespace: string | null;
  selector: string;
  objects: string;
  spec_digest: string;
  created_at: string;
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
  /** when `state` last changed */
  state_since: string | null;
}

export interface StatusAggregateTable {
  dimension: string;
  key: string;
  metric: string;
  count: number;
}

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

export interface Database {
  sites: SiteTable;
  bundles: BundleTable;
  bundle_revisions: BundleRevisionTable;
  blobs: BlobTable;
  deployments: DeploymentTable;
  status_aggregates: StatusAggregateTable;
  status_meta: StatusMetaTable;
  events: EventTable;
}

export type Db = Kysely<Database>;
