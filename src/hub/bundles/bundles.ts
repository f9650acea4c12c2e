// Bundles at the hub: applying files makes a new immutable revision (only when the content changed)
// and re-runs placement; deleting a bundle unplaces it everywhere, and agents prune what it created.

import { OutpostError } from '../../model/errors.ts';
import type { ApplyResult, BundleFiles, BundleView } from '../../model/wire.ts';
import { parseBundleFiles } from '../../render/bundle-files.ts';
import { digestOf } from '../../render/digest.ts';
import type { HubContext } from '../context.ts';
import { placeBundles } from '../placement/place.ts';
import { bundleStateCounts } from '../status/summary.ts';
import type { BundleTable } from '../store/schema.ts';

export async function applyBundle(ctx: HubContext, body: BundleFiles): Promise<ApplyResult> {
  const { definition, objects } = parseBundleFiles(body.files);
  const manifests = objects.map((o) => o.object);
  const specDigest = digestOf({
    namespace: definition.namespace ?? null,
    selector: definition.selector,
    manifests,
  });
  const db = ctx.store.db;
  const now = ctx.now().toISOString();
  const result = await db.transaction().execute(async (tx) => {
    const current = await tx
      .selectFrom('bundles')
      .selectAll()
      .where('name', '=', definition.name)
      .executeTakeFirst();
    if (current?.spec_digest === specDigest) return { revision: Number(current.revision), changed: false };
    // A bundle deleted and applied again continues its revision numbers: revisions are never reused.
    const latest = await tx
      .selectFrom('bundle_revisions')
      .select((eb) => eb.fn.max('revision').as('revision'))
      .where('bundle', '=', definition.name)
      .executeTakeFirst();
    const revision = Number(latest?.revision ?? 0) + 1;
    const row: BundleTable = {
      name: definition.name,
      revision,
      namespace: definition.namespace ?? null,
      selector: JSON.stringify(definition.selector),
      spec_digest: specDigest,
      object_count: manifests.length,
      updated_at: now,
    };
    await tx
      .insertInto('bundle_revisions')
      .values({
        bundle: row.name,
        revision,
        namespace: row.namespace,
        selector: row.selector,
        objects: JSON.stringify(manifests),
        spec_digest: specDigest,
        created_at: now,
      })
      .execute();
    if (current) {
      await tx.updateTable('bundles').set(row).where('name', '=', row.name).execute();
    } else {
      await tx.insertInto('bundles').values(row).execute();
    }
    return { revision, changed: true };
  });
  if (result.changed) await placeBundles(ctx, [definition.name]);
  const targeted = await db
    .selectFrom('deployments')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('bundle', '=', definition.name)
    .where('desired_digest', 'is not', null)
    .executeTakeFirstOrThrow();
  return {
    bundle: definition.name,
    revision: result.revision,
    changed: result.changed,
    targeted: Number(targeted.n),
  };
}

export async function deleteBundle(ctx: HubContext, name: string): Promise<void> {
  const deleted = await ctx.store.db.deleteFrom('bundles').where('name', '=', name).executeTakeFirst();
  if (Number(deleted.numDeletedRows) === 0) throw new OutpostError('not_found', `no bundle named ${name}`);
  await placeBundles(ctx, [name]);
}

function bundleView(row: BundleTable, states: Record<string, number> = {}): BundleView {
  return {
    name: row.name,
    revision: Number(row.revision),
    namespace: row.namespace,
    selector: JSON.parse(row.selector),
    objects: Number(row.object_count),
    sites: Object.values(states).reduce((a, b) => a + b, 0),
    states,
    updatedAt: row.updated_at,
  };
}

export async function listBundles(ctx: HubContext): Promise<BundleView[]> {
  const rows = await ctx.store.db.selectFrom('bundles').selectAll().orderBy('name').execute();
  const counts = await bundleStateCounts(ctx);
  return rows.map((r) => bundleView(r, counts.get(r.name)));
}

export async function getBundle(ctx: HubContext, name: string): Promise<BundleView> {
  const row = await ctx.store.db
    .selectFrom('bundles')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no bundle named ${name}`);
  return bundleView(row, (await bundleStateCounts(ctx, name)).get(name));
}
