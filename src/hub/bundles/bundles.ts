// Bundles at the hub: applying files makes a new immutable revision (only when the content changed)
// and re-runs placement; deleting a bundle unplaces it everywhere, and agents prune what it created.

import { OutpostError } from '../../model/errors.ts';
import type { ApplyResult, BundleFiles, BundleView } from '../../model/wire.ts';
import { parseBundleFiles } from '../../render/bundle-files.ts';
import type { LabelSelector } from '../../select/labels.ts';
import { bundleStatesWithin } from '../access/scoped-status.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { markPlacementDue, placeBundles } from '../placement/place.ts';
import { followRevision } from '../rollout/rollouts.ts';
import { resolveStrategy, storedStrategyNames } from '../rollout/strategies.ts';
import { bundleStateCounts } from '../status/summary.ts';
import type { BundleTable } from '../store/schema.ts';
import { applyDependencyError, assertNoDependents, storedDependencies } from './dependencies.ts';
import { checkBundleBytes, checkLimits, specDigestOf, storeRevision } from './revisions.ts';

/** Who may change which bundle, for a caller whose token is bound to a team (access/reach.ts). */
export interface BundleGuard {
  /** throws when the caller may not change (or, for a new one, make) the bundle */
  check(bundle: string, owner: string | null, exists: boolean): void;
  /** the team a bundle the caller makes belongs to */
  team: string | null;
}

export async function applyBundle(
  ctx: HubContext,
  actor: Actor,
  body: BundleFiles,
  guard?: BundleGuard,
): Promise<ApplyResult> {
  checkBundleBytes(body.files, ctx.config.limits);
  const db = ctx.store.db;
  const parsed = parseBundleFiles(body.files, { strategies: await storedStrategyNames(db) });
  checkLimits(parsed, ctx.config.limits);
  const { definition } = parsed;
  if (definition.generator) {
    throw new OutpostError(
      'bundle_invalid',
      `bundle ${definition.name} is made by ${definition.generator.helm ? 'Helm' : 'Kustomize'}, which reads its whole folder: add its repository as a source (outpost source add)`,
      { file: body.files[0]?.path },
    );
  }
  const result = await db.transaction().execute(async (tx) => {
    const strategy = await resolveStrategy(tx, definition.fleet.rollout);
    const owner = await tx
      .selectFrom('bundles')
      .leftJoin('sources', 'sources.name', 'bundles.source')
      .select(['bundles.source as source', 'bundles.team as team', 'sources.team as sourceTeam'])
      .where('bundles.name', '=', definition.name)
      .executeTakeFirst();
    guard?.check(definition.name, owner?.team ?? owner?.sourceTeam ?? null, owner !== undefined);
    if (owner?.source) {
      throw new OutpostError(
        'conflict',
        `bundle ${definition.name} comes from git source ${owner.source}; change it there (or remove the source)`,
      );
    }
    const dependencyError = applyDependencyError(
      await storedDependencies(tx),
      definition.name,
      definition.fleet.dependsOn,
      { file: body.files[0]?.path },
    );
    if (dependencyError) throw dependencyError;
    const stored = await storeRevision(tx, ctx.now(), parsed, { source: null, commit: null });
    if (!owner && guard?.team) {
      await tx.updateTable('bundles').set({ team: guard.team }).where('name', '=', definition.name).execute();
    }
    if (stored.changed) {
      await markPlacementDue(ctx, tx, [definition.name]);
      await audit(tx, ctx.now(), actor, 'bundle.apply', `bundle/${definition.name}`, {
        revision: stored.revision,
        specDigest: specDigestOf(parsed),
        files: body.files.map((f) => f.path),
      });
      // a revision with spec.rollout reaches the sites in waves from the one they run; without, at once
      const rollout = await followRevision(ctx, tx, {
        bundle: definition.name,
        previous: stored.previous,
        revision: stored.revision,
        strategy,
        by: actor.name,
        ...(body.supersede ? { supersede: true } : {}),
      });
      if (rollout) return { ...stored, rollout };
    }
    return stored;
  });
  if (result.changed) {
    await placeBundles(ctx, [definition.name]);
    ctx.events.notify();
  }
  const targeted = await db
    .selectFrom('deployments')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('bundle', '=', definition.name)
    .where('desired_digest', 'is not', null)
    .executeTakeFirstOrThrow();
  const failed = await renderFailures(ctx, definition.name);
  return {
    bundle: definition.name,
    revision: result.revision,
    changed: result.changed,
    targeted: Number(targeted.n),
    ...(failed.length > 0 ? { failed } : {}),
    ...('rollout' in result ? { rollout: result.rollout } : {}),
  };
}

/** Sites the bundle's current revision cannot be rendered or placed for, with why. */
export async function renderFailures(
  ctx: HubContext,
  bundle: string,
): Promise<Array<{ site: string; message: string }>> {
  const rows = await ctx.store.db
    .selectFrom('deployments')
    .innerJoin('sites', 'sites.id', 'deployments.site_id')
    .select(['sites.name', 'deployments.render_error'])
    .where('deployments.bundle', '=', bundle)
    .where('deployments.render_error', 'is not', null)
    .orderBy('sites.name')
    .execute();
  return rows.map((r) => ({ site: r.name, message: r.render_error! }));
}

export async function deleteBundle(ctx: HubContext, actor: Actor, name: string): Promise<void> {
  await ctx.store.db.transaction().execute(async (tx) => {
    await assertNoDependents(tx, name);
    const deleted = await tx.deleteFrom('bundles').where('name', '=', name).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) throw new OutpostError('not_found', `no bundle named ${name}`);
    await audit(tx, ctx.now(), actor, 'bundle.delete', `bundle/${name}`);
    await markPlacementDue(ctx, tx, [name]);
  });
  await placeBundles(ctx, [name]);
}

export function bundleView(row: BundleTable, states: Record<string, number> = {}): BundleView {
  return {
    name: row.name,
    revision: Number(row.revision),
    namespace: row.namespace,
    selector: JSON.parse(row.selector),
    objects: Number(row.object_count),
    sites: Object.values(states).reduce((a, b) => a + b, 0),
    states,
    updatedAt: row.updated_at,
    ...(row.source ? { source: row.source } : {}),
    ...(row.team ? { team: row.team } : {}),
  };
}

/** Every bundle, with its sites counted over the fleet or over the sites one of `within` picks. */
export async function listBundles(ctx: HubContext, within?: readonly LabelSelector[]): Promise<BundleView[]> {
  const rows = await ctx.store.db.selectFrom('bundles').selectAll().orderBy('name').execute();
  const counts = within ? await bundleStatesWithin(ctx, within) : await bundleStateCounts(ctx);
  return rows.map((r) => bundleView(r, counts.get(r.name)));
}

export async function getBundle(
  ctx: HubContext,
  name: string,
  within?: readonly LabelSelector[],
): Promise<BundleView> {
  const row = await ctx.store.db
    .selectFrom('bundles')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no bundle named ${name}`);
  const counts = within ? await bundleStatesWithin(ctx, within, name) : await bundleStateCounts(ctx, name);
  return bundleView(row, counts.get(name));
}
