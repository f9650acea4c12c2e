// Schema migrations, in code so they ship inside the hub. One list for SQLite and PostgreSQL; never
// edit a released migration, add a new one.
//
// Writing a migration that works on both engines:
// - Use Kysely's schema builder with the types 'text' and 'integer' (and 'real' for fractions). Store
//   timestamps as ISO-8601 text and JSON as text: both compare and read back the same on both engines.
// - Ids are text made by the application (ids.ts). Where a generated number is truly needed, branch on
//   engineOf(db) for the column alone, as 0004 does for events.id (SQLite autoincrement, PostgreSQL
//   identity); PostgreSQL's 'integer' is 32-bit, so such ids are 'bigint' there.
// - Raw `sql` only in the common subset (create index … where …, update … set … = case …). No
//   `insert or ignore`, json_extract or datetime(): use onConflict, StoreSql (dialect.ts) and text times.
// - Booleans are integer 0/1 columns: SQLite has no boolean type.
// - On PostgreSQL a migration runs in a transaction while replicas wait on an advisory lock
//   (openStore), so several replicas starting at once apply it exactly once; SQLite runs it in one too.
// - Add the migration under the next number; test/store/store.test.ts runs the whole list on both engines.

import { type Kysely, sql } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { OutpostError } from '../../model/errors.ts';
import { engineOf } from './dialect.ts';

const migrations: Record<string, Migration> = {
  '0001_walking_skeleton': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('sites')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('facts', 'text', (c) => c.notNull())
        .addColumn('lifecycle', 'text', (c) => c.notNull())
        .addColumn('registered_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text')
        .addColumn('desired_digest', 'text')
        .addColumn('last_report_seq', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();

      await db.schema
        .createTable('bundles')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('namespace', 'text')
        .addColumn('selector', 'text', (c) => c.notNull())
        .addColumn('spec_digest', 'text', (c) => c.notNull())
        .addColumn('object_count', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('bundle_revisions')
        .addColumn('bundle', 'text', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('namespace', 'text')
        .addColumn('selector', 'text', (c) => c.notNull())
        .addColumn('objects', 'text', (c) => c.notNull())
        .addColumn('spec_digest', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('bundle_revisions_pk', ['bundle', 'revision'])
        .execute();

      await db.schema
        .createTable('blobs')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('deployments')
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('bundle', 'text', (c) => c.notNull())
        .addColumn('desired_revision', 'integer')
        .addColumn('desired_digest', 'text')
        .addColumn('applied_digest', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('total', 'integer', (c) => c.notNull())
        .addColumn('applied', 'integer', (c) => c.notNull())
        .addColumn('ready', 'integer', (c) => c.notNull())
        .addColumn('not_ready', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('deployments_pk', ['site_id', 'bundle'])
        .execute();
      await db.schema
        .createIndex('deployments_bundle')
        .on('deployments')
        .columns(['bundle', 'state'])
        .execute();
    },
  },
  '0002_identity': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('sites').addColumn('machine_id', 'text').execute();
      await db.schema.alterTable('sites').addColumn('cert_expires_at', 'text').execute();
      // a pending site's one-time ticket (hashed) to fetch its certificate once approved
      await db.schema.alterTable('sites').addColumn('ticket_hash', 'text').execute();
      await db.schema.alterTable('sites').addColumn('pending_csr', 'text').execute();
      await db.schema.alterTable('sites').addColumn('issued_cert', 'text').execute();
      await db.schema.createIndex('sites_machine_id').unique().on('sites').column('machine_id').execute();

      await db.schema
        .createTable('bootstrap_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('auto_approve', 'integer', (c) => c.notNull())
        .addColumn('max_uses', 'integer', (c) => c.notNull())
        .addColumn('uses', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('certificates')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createIndex('certificates_site').on('certificates').column('site_id').execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();

      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0005_fleet_sources': {
    async up(db: Kysely<unknown>) {
      // placement beyond the selector, customization, dependsOn, rollout and object origins, as JSON
      await db.schema
        .alterTable('bundle_revisions')
        .addColumn('fleet', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema.alterTable('bundle_revisions').addColumn('source', 'text').execute();
      await db.schema.alterTable('bundle_revisions').addColumn('source_commit', 'text').execute();
      // the git source that owns a bundle; null for bundles applied with `outpost bundle apply`
      await db.schema.alterTable('bundles').addColumn('source', 'text').execute();
      await db.schema.alterTable('deployments').addColumn('render_error', 'text').execute();

      await db.schema
        .createTable('sources')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('interval_seconds', 'integer', (c) => c.notNull())
        .addColumn('auth', 'text', (c) => c.notNull())
        .addColumn('webhook_secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_attempt_at', 'text')
        .addColumn('last_error', 'text')
        .addColumn('synced_commit', 'text')
        .addColumn('synced_at', 'text')
        .addColumn('rejected_commit', 'text')
        .addColumn('rejected_at', 'text')
        .addColumn('rejected_errors', 'text')
        .execute();
    },
  },
  '0004_status_events': {
    // Status becomes incremental: each site stores its connectivity (so a transition is an event) and
    // what it needs attention for; counts live in status_aggregates, kept by the writers that move them;
    // events get a monotonic id. Aggregates are (re)built at start when status_meta says they must be.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('sites')
        .addColumn('connectivity', 'text', (c) => c.notNull().defaultTo('Offline'))
        .execute();
      await db.schema.alterTable('sites').addColumn('connectivity_since', 'text').execute();
      await db.schema.alterTable('sites').addColumn('last_report_at', 'text').execute();
      await db.schema.alterTable('sites').addColumn('worst_state', 'text').execute();
      await db.schema
        .alterTable('sites')
        .addColumn('attention_rank', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('sites').addColumn('attention_reason', 'text').execute();
      await db.schema.alterTable('sites').addColumn('attention_detail', 'text').execute();
      await db.schema.alterTable('sites').addColumn('attention_since', 'text').execute();
      await sql`update sites set connectivity = case when last_seen_at is null then 'Offline' else 'Online' end,
        connectivity_since = coalesce(last_seen_at, registered_at)`.execute(db);
      await db.schema
        .createIndex('sites_connectivity')
        .on('sites')
        .columns(['connectivity', 'last_seen_at'])
        .execute();
      await db.schema
        .createIndex('sites_attention')
        .on('sites')
        .columns(['attention_rank', 'attention_since', 'id'])
        .execute();

      await db.schema.alterTable('deployments').addColumn('state_since', 'text').execute();
      await sql`update deployments set state_since = updated_at`.execute(db);

      await db.schema
        .createTable('status_aggregates')
        .addColumn('dimension', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('metric', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('status_aggregates_pk', ['dimension', 'key', 'metric'])
        .execute();
      await db.schema
        .createTable('status_meta')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();

      // monotonic ids readers resume after: SQLite's rowid alias, a PostgreSQL identity column
      await db.schema
        .createTable('events')
        .addColumn('id', engineOf(db) === 'postgres' ? 'bigint' : 'integer', (c) =>
          engineOf(db) === 'postgres'
            ? c.primaryKey().generatedByDefaultAsIdentity()
            : c.primaryKey().autoIncrement(),
        )
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('site', 'text')
        .addColumn('bundle', 'text')
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_site').on('events').columns(['site', 'id']).execute();
      await db.schema.createIndex('events_type').on('events').columns(['type', 'id']).execute();
      await db.schema.createIndex('events_time').on('events').column('time').execute();
    },
  },
  '0003_bundle_apply_options': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('bundle_revisions')
        .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
    },
  },
  '0006_rollouts': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('rollouts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('bundle', 'text', (c) => c.notNull())
        .addColumn('from_revision', 'integer', (c) => c.notNull())
        .addColumn('to_revision', 'integer', (c) => c.notNull())
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('phase', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      // a superseded rollout no longer holds any site back; every other one is its bundle's current rollout
      await sql`create unique index rollouts_current on rollouts (bundle) where phase <> 'Superseded'`.execute(
        db,
      );
      await db.schema
        .createTable('rollout_sites')
        .addColumn('rollout_id', 'text', (c) => c.notNull())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('wave', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('baseline', 'text')
        .addColumn('reason', 'text')
        .addPrimaryKeyConstraint('rollout_sites_pk', ['rollout_id', 'site_id'])
        .execute();
    },
  },
  '0007_rollout_queue': {
    async up(db: Kysely<unknown>) {
      // a rollout that waits for the running one is Queued: one running and one queued per bundle at most
      await sql`drop index rollouts_current`.execute(db);
      await sql`create unique index rollouts_current on rollouts (bundle) where phase not in ('Superseded', 'Queued')`.execute(
        db,
      );
      await sql`create unique index rollouts_queued on rollouts (bundle) where phase = 'Queued'`.execute(db);
      // each site's own starting revision: after an aborted or superseded rollout, sites run different ones
      await db.schema.alterTable('rollout_sites').addColumn('from_revision', 'integer').execute();
    },
  },
  // Telemetry: idempotent batch ids, cumulative drop counts, per-site 5-minute SLI buckets (short
  // retention), fleet-wide hourly counts per bundle and per-SLO 5-minute totals (kept for the longest SLO
  // window), alert state and the webhook queue.
  // Times used for ranges and pruning are Unix milliseconds (bigint); portable types only.
  '0007_telemetry': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('telemetry_batches')
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('batch_id', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('telemetry_batches_pk', ['site_id', 'batch_id'])
        .execute();
      await db.schema
        .createIndex('telemetry_batches_age')
        .on('telemetry_batches')
        .column('received_at')
        .execute();
      await db.schema
        .createTable('telemetry_drops')
        .addColumn('site_id', 'text', (c) => c.primaryKey())
        .addColumn('sli', 'bigint', (c) => c.notNull())
        .addColumn('event', 'bigint', (c) => c.notNull())
        .addColumn('metric', 'bigint', (c) => c.notNull())
        .addColumn('debug', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sli_site_buckets')
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('bundle', 'text', (c) => c.notNull())
        .addColumn('bucket_start', 'bigint', (c) => c.notNull())
        .addColumn('requests', 'double precision')
        .addColumn('errors', 'double precision')
        .addColumn('slow', 'double precision')
        .addColumn('latency_max', 'double precision')
        .addColumn('saturation_max', 'double precision')
        .addColumn('samples', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('sli_site_buckets_pk', ['site_id', 'bundle', 'bucket_start'])
        .execute();
      await db.schema
        .createIndex('sli_site_buckets_bundle')
        .on('sli_site_buckets')
        .columns(['bundle', 'bucket_start'])
        .execute();
      await db.schema
        .createIndex('sli_site_buckets_age')
        .on('sli_site_buckets')
        .column('bucket_start')
        .execute();
      await db.schema
        .createTable('sli_bundle_hourly')
        .addColumn('bundle', 'text', (c) => c.notNull())
        .addColumn('hour_start', 'bigint', (c) => c.notNull())
        .addColumn('requests', 'double precision', (c) => c.notNull())
        .addColumn('errors', 'double precision', (c) => c.notNull())
        .addColumn('slow', 'double precision', (c) => c.notNull())
        .addPrimaryKeyConstraint('sli_bundle_hourly_pk', ['bundle', 'hour_start'])
        .execute();
      await db.schema
        .createTable('slos')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('bundle', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('slo_buckets')
        .addColumn('slo', 'text', (c) => c.notNull())
        .addColumn('bucket_start', 'bigint', (c) => c.notNull())
        .addColumn('requests', 'double precision', (c) => c.notNull())
        .addColumn('errors', 'double precision', (c) => c.notNull())
        .addColumn('slow', 'double precision', (c) => c.notNull())
        .addPrimaryKeyConstraint('slo_buckets_pk', ['slo', 'bucket_start'])
        .execute();
      await db.schema
        .createTable('slo_alerts')
        .addColumn('slo', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('burn_long', 'double precision')
        .addColumn('burn_short', 'double precision')
        .addColumn('notified_at', 'text')
        .addPrimaryKeyConstraint('slo_alerts_pk', ['slo', 'kind'])
        .execute();
      await db.schema
        .createTable('alert_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('receiver', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('delivered_at', 'text')
        .addColumn('last_error', 'text')
        .execute();
      await db.schema
        .createIndex('alert_deliveries_due')
        .on('alert_deliveries')
        .columns(['state', 'next_attempt_at'])
        .execute();
    },
  },
  // Agent releases: one row per version, its tarball in 1 MiB chunks so a download streams from the
  // store without holding a release in memory. Binary columns are the one engine-specific type.
  '0008_agent_releases': {
    async up(db: Kysely<unknown>) {
      const binary = engineOf(db) === 'postgres' ? 'bytea' : 'blob';
      await db.schema
        .createTable('agent_releases')
        .addColumn('version', 'text', (c) => c.primaryKey())
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('image', 'text')
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('agent_release_chunks')
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('data', binary, (c) => c.notNull())
        .addPrimaryKeyConstraint('agent_release_chunks_pk', ['digest', 'seq'])
        .execute();
    },
  },
  // Each site's sealing public key (X25519, base64url), which operators seal secrets to; null until the
  // site's agent sends one.
  '0009_sealing_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('sites').addColumn('sealing_key', 'text').execute();
      await db.schema.alterTable('sites').addColumn('sealing_key_at', 'text').execute();
    },
  },
  // Samples waiting for remote-write, kept across restarts; sent oldest first by the leader
  '0010_remote_write_queue': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('remote_write_queue')
        .addColumn('id', engineOf(db) === 'postgres' ? 'bigint' : 'integer', (c) =>
          engineOf(db) === 'postgres'
            ? c.primaryKey().generatedByDefaultAsIdentity()
            : c.primaryKey().autoIncrement(),
        )
        .addColumn('site', 'text', (c) => c.notNull())
        .addColumn('samples', 'text', (c) => c.notNull())
        .addColumn('sample_count', 'integer', (c) => c.notNull())
        .execute();
    },
  },
  // SLOs and named rollout strategies may come from a source (then only the source changes them)
  '0011_fleet_documents': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('slos').addColumn('source', 'text').execute();
      await db.schema
        .createTable('rollout_strategies')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('source', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  // OCI sources: a semver range instead of a tag, and plain HTTP to a registry on a private network
  '0012_source_kinds': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('sources').addColumn('semver', 'text').execute();
      await db.schema
        .alterTable('sources')
        .addColumn('insecure', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  // Fleet-wide placement runs in chunks of sites, each its own transaction, after the change that asked
  // for it committed; the change records that its bundle's placement is due in its own transaction, and
  // the run clears it at the end, so a run cut short by a crash is run again (placement/place.ts).
  '0013_placement_due': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('placement_due')
        .addColumn('bundle', 'text', (c) => c.primaryKey())
        .addColumn('generation', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  // Regional relays: one row per relay, its label selector (the sites it may serve), the hash of its
  // one-time enrolment secret and the serial of the client certificate it calls the hub with.
  '0014_relays': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('relays')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('selector', 'text', (c) => c.notNull())
        .addColumn('enrol_hash', 'text')
        .addColumn('cert_serial', 'text')
        .addColumn('cert_not_after', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('last_seen_at', 'text')
        .addColumn('status', 'text')
        .execute();
      await db.schema.createIndex('relays_cert_serial').on('relays').column('cert_serial').execute();
    },
  },
  // site profiles (whole-stack layers) and what each site reports it runs beneath its bundles
  '0015_profiles': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('sites').addColumn('stack', 'text').execute();
      await db.schema.alterTable('sites').addColumn('stack_at', 'text').execute();
      await db.schema
        .createTable('profiles')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('source', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('profile_revisions')
        .addColumn('profile', 'text', (c) => c.notNull().references('profiles.name').onDelete('cascade'))
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('placement', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('commit', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('profile_revisions_pk', ['profile', 'revision'])
        .execute();
    },
  },
  // Operating the fleet: role bindings on API tokens, bundle ownership by team (set on a bundle, or on
  // the source it comes from), operations queued for a site's agent (actions, log requests) and the log
  // chunks agents upload.
  '0016_operations': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('api_tokens')
        .addColumn('bindings', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema.alterTable('bundles').addColumn('team', 'text').execute();
      await db.schema.alterTable('sources').addColumn('team', 'text').execute();
      await db.schema
        .createTable('site_operations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('requested_at', 'text', (c) => c.notNull())
        .addColumn('deadline_at', 'text', (c) => c.notNull())
        .addColumn('claimed_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('message', 'text')
        .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('site_operations_site')
        .on('site_operations')
        .columns(['site_id', 'state'])
        .execute();
      await db.schema
        .createIndex('site_operations_deadline')
        .on('site_operations')
        .columns(['state', 'deadline_at'])
        .execute();
      await db.schema
        .createTable('operation_log_chunks')
        .addColumn('operation_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('operation_log_chunks_pk', ['operation_id', 'seq'])
        .execute();
    },
  },
  // Chart bundles: each chart's files by digest (so any replica can render it), and Helm's rendering of
  // each distinct set of chart inputs (wanted until the leader's renderer makes it)
  '0017_chart_renderings': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('chart_sources')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('chart_renderings')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('chart', 'text', (c) => c.notNull())
        .addColumn('chart_path', 'text', (c) => c.notNull())
        .addColumn('inputs', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('rendered_at', 'text')
        .execute();
      await db.schema.createIndex('chart_renderings_state').on('chart_renderings').column('state').execute();
    },
  },
  // which relay each site last came through (so a lost relay is one event, not one per site) and when a
  // relay was found silent
  '0018_relay_routes': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('sites').addColumn('via_relay_id', 'text').execute();
      await db.schema.alterTable('sites').addColumn('via_relay_at', 'text').execute();
      await db.schema.alterTable('relays').addColumn('lost_at', 'text').execute();
      await db.schema.createIndex('sites_via_relay').on('sites').column('via_relay_id').execute();
    },
  },
  // Troubleshooting tunnels: each operator credential for one site's Kubernetes API, kept hashed, with
  // its mode and expiry (tunnel/sessions.ts); the requests sent through it are in the audit log.
  '0019_tunnel_sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tunnel_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('api_token_id', 'text', (c) => c.notNull())
        .addColumn('operator', 'text', (c) => c.notNull())
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('tunnel_sessions_expiry')
        .on('tunnel_sessions')
        .column('expires_at')
        .execute();
    },
  },
  // OCI sources may name a cosign public key (PEM); a revision is accepted only when signed by it
  '0020_source_verify_key': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('sources').addColumn('verify_key', 'text').execute();
    },
  },
  // which profile revision each site is given (what its desired state's stack carries), since when, and
  // the host layers of that revision as sent (a site no profile places, or two do, has no row); and the
  // profile rollouts that move sites from one revision to the next
  '0021_profile_targets': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('profile_targets')
        .addColumn('site_id', 'text', (c) => c.primaryKey())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('since', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('profile_targets_profile')
        .on('profile_targets')
        .column('profile')
        .execute();
      // a profile's rollouts and their sites, shaped as a bundle's (rollout/core decides both)
      await db.schema
        .createTable('profile_rollouts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('from_revision', 'integer', (c) => c.notNull())
        .addColumn('to_revision', 'integer', (c) => c.notNull())
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('phase', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('profile_rollouts_profile')
        .on('profile_rollouts')
        .columns(['profile', 'phase'])
        .execute();
      await db.schema
        .createTable('profile_rollout_sites')
        .addColumn('rollout_id', 'text', (c) => c.notNull())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('wave', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('reason', 'text')
        .addColumn('from_revision', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('profile_rollout_sites_pk', ['rollout_id', 'site_id'])
        .execute();
    },
  },
  // each site's conformance to the profile revision it is given, kept as reports and targets change
  // (profiles/conformance-kept.ts); a row from before is judged on its site's next report or target change
  '0022_profile_conformance': {
    async up(db: Kysely<unknown>) {
      const add = (column: string, notNullDefault?: string) =>
        db.schema
          .alterTable('profile_targets')
          .addColumn(column, 'text', (c) =>
            notNullDefault === undefined ? c : c.notNull().defaultTo(notNullDefault),
          )
          .execute();
      await add('state', 'Unknown');
      for (const layer of ['os', 'kubernetes', 'agent', 'addons', 'apps']) await add(`layer_${layer}`);
      await add('judged_at', '');
      await add('deadline_at', '');
    },
  },
  // reports each site's agents dropped from a full outbox, over all installs of the machine, and the part
  // earlier installs counted (an agent's running count starts again with its state directory); bigint, as
  // an agent may send any safe integer; the partial index keeps the fleet total a read of the sites that dropped
  '0023_site_dropped_reports': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('sites')
        .addColumn('dropped_reports', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('sites')
        .addColumn('dropped_reports_before', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('sites_dropped_reports')
        .on('sites')
        .column('dropped_reports')
        .where(sql.ref('dropped_reports'), '>', 0)
        .execute();
    },
  },
  // count changes waiting to be folded into status_aggregates: on PostgreSQL writers append here instead of
  // upserting the fleet-wide cells every writer shares, so no writer waits on another's row locks
  // (status/aggregate-store.ts); readers add what is pending, so counts stay exact. SQLite leaves it empty.
  '0024_status_aggregate_deltas': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('status_aggregate_deltas')
        .addColumn('dimension', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('metric', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .execute();
    },
  },
};

/** Every migration's name, in the order they apply. */
export const migrationNames: readonly string[] = Object.keys(migrations).sort();

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  await migrateTo(db, undefined);
}

/** Migrates up or down to the named migration (the latest when undefined): upgrade tests start old. */
export async function migrateTo(db: Kysely<unknown>, name: string | undefined): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await (name === undefined
    ? migrator.migrateToLatest()
    : migrator.migrateTo(name));
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new OutpostError('internal', `database migration ${failed} failed: ${(error as Error).message}`);
  }
}
