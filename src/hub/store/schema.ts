// The hub's tables as Kysely sees them. Timestamps are ISO-8601 text and JSON columns are text, so the
// same rows read back identically from SQLite and PostgreSQL.

import type { Kysely } from 'kysely';

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
  /** spec.apply as JSON, defaults filled in ('{}' for revisions made before it existed) */
  options: string;
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
}

export interface Database {
  sites: SiteTable;
  bundles: BundleTable;
  bundle_revisions: BundleRevisionTable;
  blobs: BlobTable;
  deployments: DeploymentTable;
}

export type Db = Kysely<Database>;
