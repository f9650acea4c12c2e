// Schema migrations, in code so they ship inside the hub. Written in Kysely's portable schema builder
// so SQLite and PostgreSQL get the same tables; never edit a released migration, add a new one.

import { type Kysely, sql } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { OutpostError } from '../../model/errors.ts';

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
        .addColumn('credential_hash', 'text', (c) => c.notNull())
        .addColumn('registered_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text')
        .addColumn('desired_digest', 'text')
        .addColumn('last_report_seq', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('sites_credential').on('sites').column('credential_hash').execute();

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

      // SQLite's rowid alias; PostgreSQL will take a generated identity column in its own dialect step.
      await db.schema
        .createTable('events')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
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
};

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
