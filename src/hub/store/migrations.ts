// Schema migrations, in code so they ship inside the hub. Written in Kysely's portable schema builder
// so SQLite and PostgreSQL get the same tables; never edit a released migration, add a new one.

import type { Kysely } from 'kysely';
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
  '0003_bundle_apply_options': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('bundle_revisions')
        .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new OutpostError('internal', `database migration ${failed} failed: ${(error as Error).message}`);
  }
}
