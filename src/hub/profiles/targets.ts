// Which profile revision each site is given, kept in profile_targets: the desired state's stack is built
// from it and the site's desired digest covers it, so a changed target wakes the site's long-poll as a
// bundle change does. Run after a profile changes, a rollout step starts sites, or a site's labels change.

import type { ProfileSpec } from '../../model/profile.ts';
import type { StackTarget } from '../../model/site-stack.ts';
import { desiredDigest } from '../../render/rendered.ts';
import type { PlacementRules } from '../../select/placement.ts';
import type { HubContext } from '../context.ts';
import { finalPhases } from '../rollout/core/state.ts';
import type { Db } from '../store/schema.ts';
import { judgeTargets } from './conformance-kept.ts';
import { compileProfiles, matchProfile } from './core/matching.ts';
import { type RolloutHold, stackTargetOf, targetRevision } from './core/target.ts';

/** Sites per statement when targets are read together. */
const readTogether = 500;

/** The stack targets of the given sites, for those that have one. */
export async function loadTargets(db: Db, siteIds: readonly string[]): Promise<Map<string, StackTarget>> {
  const out = new Map<string, StackTarget>();
  for (let i = 0; i < siteIds.length; i += readTogether) {
    const rows = await db
      .selectFrom('profile_targets')
      .select(['site_id', 'target'])
      .where('site_id', 'in', siteIds.slice(i, i + readTogether))
      .execute();
    for (const r of rows) out.set(r.site_id, JSON.parse(r.target) as StackTarget);
  }
  return out;
}

interface LatestProfile {
  name: string;
  revision: number;
  placement: PlacementRules;
}

/**
 * What the profiles' rollouts hold back, per profile: the sites a rollout of the latest revision has not
 * started, each with the revision it keeps meanwhile (a Succeeded rollout still holds the sites it
 * skipped while they were offline, until it starts them on their return).
 */
async function rolloutHolds(tx: Db, siteIds: readonly string[]): Promise<Map<string, RolloutHold>> {
  const rollouts = await tx
    .selectFrom('profile_rollouts')
    .select(['id', 'profile', 'to_revision'])
    .where('phase', 'not in', [...finalPhases])
    .execute();
  const holds = new Map<string, RolloutHold>();
  for (const r of rollouts) {
    const rows = await tx
      .selectFrom('profile_rollout_sites')
      .select(['site_id', 'from_revision'])
      .where('rollout_id', '=', r.id)
      .where('started_at', 'is', null)
      .where('site_id', 'in', siteIds)
      .execute();
    holds.set(r.profile, {
      toRevision: Number(r.to_revision),
      held: new Map(rows.map((row) => [row.site_id, Number(row.from_revision)])),
    });
  }
  return holds;
}

/**
 * Gives each of the sites (every site when undefined) the profile revision it follows, a chunk of sites
 * per transaction under the placement lock (placement computes the same digests): a row changes only
 * when the profile or revision does, so `since` is when the site was first given it. Sites whose target
 * changed get their desired digest anew and their long-polls woken. A site no profile places, or two do,
 * loses its target; one whose profile's rule cannot be decided for it (a CEL error) keeps what it had.
 * Returns the sites whose target changed.
 */
export async function targetProfiles(ctx: HubContext, siteIds?: readonly string[]): Promise<string[]> {
  const ids =
    siteIds ?? (await ctx.store.db.selectFrom('sites').select('id').orderBy('id').execute()).map((r) => r.id);
  const changed: string[] = [];
  const size = ctx.config.placement.sitesPerTransaction;
  for (let i = 0; i < ids.length; i += size) {
    const chunk = ids.slice(i, i + size);
    const moved = await ctx.store.db.transaction().execute(async (tx) => {
      await ctx.store.sql.lockTransaction(tx as never, 'placement');
      return targetChunk(ctx, tx, chunk);
    });
    ctx.desiredWatch.notify(moved.woken);
    changed.push(...moved.targeted);
  }
  return changed;
}

async function latestProfiles(tx: Db): Promise<LatestProfile[]> {
  const rows = await tx
    .selectFrom('profiles')
    .innerJoin('profile_revisions', (j) =>
      j
        .onRef('profile_revisions.profile', '=', 'profiles.name')
        .onRef('profile_revisions.revision', '=', 'profiles.revision'),
    )
    .select(['profiles.name', 'profiles.revision', 'profile_revisions.placement'])
    .execute();
  return rows.map((r) => ({
    name: r.name,
    revision: Number(r.revision),
    placement: JSON.parse(r.placement) as PlacementRules,
  }));
}

async function targetChunk(
  ctx: HubContext,
  tx: Db,
  siteIds: readonly string[],
): Promise<{ targeted: string[]; woken: string[] }> {
  const profiles = await latestProfiles(tx);
  const compiled = compileProfiles(profiles);
  const latest = new Map(profiles.map((p) => [p.name, p.revision]));
  const held = await rolloutHolds(tx, siteIds);
  const sites = await tx
    .selectFrom('sites')
    .select(['id', 'name', 'labels', 'properties', 'lifecycle'])
    .where('id', 'in', siteIds)
    .execute();
  const existing = new Map(
    (
      await tx
        .selectFrom('profile_targets')
        .select(['site_id', 'profile', 'revision'])
        .where('site_id', 'in', siteIds)
        .execute()
    ).map((r) => [r.site_id, { profile: r.profile, revision: Number(r.revision) }]),
  );
  const specs = new Map<string, ProfileSpec>();
  const specOf = async (profile: string, revision: number): Promise<ProfileSpec> => {
    const key = `${profile}@${revision}`;
    let spec = specs.get(key);
    if (!spec) {
      const row = await tx
        .selectFrom('profile_revisions')
        .select('spec')
        .where('profile', '=', profile)
        .where('revision', '=', revision)
        .executeTakeFirstOrThrow();
      spec = JSON.parse(row.spec) as ProfileSpec;
      specs.set(key, spec);
    }
    return spec;
  };
  const now = ctx.now().toISOString();
  const targeted: string[] = [];
  for (const site of sites) {
    const had = existing.get(site.id);
    const match =
      site.lifecycle === 'Active'
        ? matchProfile(compiled, {
            name: site.name,
            labels: JSON.parse(site.labels),
            properties: JSON.parse(site.properties),
          })
        : ({ kind: 'none' } as const);
    if (match.kind === 'undecided') continue;
    if (match.kind !== 'matched') {
      if (had) {
        await tx.deleteFrom('profile_targets').where('site_id', '=', site.id).execute();
        targeted.push(site.id);
      }
      continue;
    }
    const revision = targetRevision(site.id, latest.get(match.profile)!, held.get(match.profile));
    if (had?.profile === match.profile && had.revision === revision) continue;
    const spec = await specOf(match.profile, revision);
    const target = JSON.stringify(stackTargetOf(match.profile, revision, spec));
    const given = {
      profile: match.profile,
      revision,
      target,
      since: now,
      // judged below, once every target of the chunk is written
      state: 'Unknown',
      judged_at: now,
      deadline_at: new Date(ctx.now().getTime() + spec.upgradeDeadlineSeconds * 1000).toISOString(),
    };
    await tx
      .insertInto('profile_targets')
      .values({ site_id: site.id, ...given })
      .onConflict((oc) => oc.column('site_id').doUpdateSet(given))
      .execute();
    targeted.push(site.id);
  }
  await judgeTargets(ctx, tx, targeted);
  return { targeted, woken: await refreshDesiredDigests(tx, targeted) };
}

/**
 * Writes the desired digest of sites whose target changed, from their placed bundles and their target
 * (as placement writes it when bundles move); returns the sites whose digest changed.
 */
async function refreshDesiredDigests(tx: Db, siteIds: readonly string[]): Promise<string[]> {
  if (siteIds.length === 0) return [];
  const targets = await loadTargets(tx, siteIds);
  const sites = await tx
    .selectFrom('sites')
    .select(['id', 'desired_digest'])
    .where('id', 'in', siteIds)
    .execute();
  const placed = await tx
    .selectFrom('deployments')
    .select(['site_id', 'bundle', 'desired_digest'])
    .where('site_id', 'in', siteIds)
    .where('desired_digest', 'is not', null)
    .execute();
  const entries = new Map<string, Array<{ bundle: string; digest: string }>>();
  for (const d of placed) {
    const list = entries.get(d.site_id) ?? [];
    list.push({ bundle: d.bundle, digest: d.desired_digest! });
    entries.set(d.site_id, list);
  }
  const woken: string[] = [];
  for (const site of sites) {
    const digest = desiredDigest(entries.get(site.id) ?? [], targets.get(site.id));
    if (digest === site.desired_digest) continue;
    await tx.updateTable('sites').set({ desired_digest: digest }).where('id', '=', site.id).execute();
    woken.push(site.id);
  }
  return woken;
}
