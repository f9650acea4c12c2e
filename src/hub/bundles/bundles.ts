// Bundles at the hub: applying files makes a new immutable revision (only when the content changed)
// and re-runs placement; deleting a bundle unplaces it everywhere, and agents prune what it created.

import { OutpostError } from '../../model/errors.ts';
import type { ApplyResult, BundleFiles, BundleView, FleetStatus } from '../../model/wire.ts';
import { parseBundleFiles } from '../../render/bundle-files.ts';
import { digestOf } from '../../render/digest.ts';
import type { HubContext } from '../context.ts';
import { placeBundles } from '../placement/place.ts';
import type { BundleTable } from '../store/schema.ts';

export async function applyBundle(ctx: HubContext, body: BundleFiles): Promise<ApplyResult> {
  const { definition, objects } = parseBundleFiles(body.files);
  const manifests = objects.map((o) => o.object);
  const specDigest = digestOf({
    namespace: definition.namespace ?? null,
    selector: definition.selector,
    options: definition.options,
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
    const revision = current ? Number(current.revision) + 1 : 1;
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
        options: JSON.stringify(definition.options),
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

async function stateCounts(ctx: HubContext, bundle?: string): Promise<Map<string, Record<string, number>>> {
  let q = ctx.store.db
    .selectFrom('deployments')
    .select(['bundle', 'state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('desired_digest', 'is not', null)
    .groupBy(['bundle', 'state']);
  if (bundle) q = q.where('bundle', '=', bundle);
  const out = new Map<string, Record<string, number>>();
  for (const r of await q.execute()) {
    const m = out.get(r.bundle) ?? {};
    m[r.state] = Number(r.n);
    out.set(r.bundle, m);
  }
  return out;
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
  const counts = await stateCounts(ctx);
  return rows.map((r) => bundleView(r, counts.get(r.name)));
}

export async function getBundle(ctx: HubContext, name: string): Promise<BundleView> {
  const row = await ctx.store.db
    .selectFrom('bundles')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no bundle named ${name}`);
  return bundleView(row, (await stateCounts(ctx, name)).get(name));
}

export function bundleSummaries(views: readonly BundleView[]): FleetStatus['bundles'] {
  return views.map((v) => ({ name: v.name, revision: v.revision, sites: v.sites, byState: v.states }));
}
