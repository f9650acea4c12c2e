// Conformance read from the store for chosen sites: what each runs of its bundles and, against one
// profile revision, how each stands from when it was given it (a profile rollout reads its sites so).

import type { ProfileSpec } from '../../model/profile.ts';
import type { SiteStack } from '../../model/site-stack.ts';
import type { HubContext } from '../context.ts';
import type { Db } from '../store/schema.ts';
import { type RunningBundle, type SiteConformance, siteConformance } from './core/conformance.ts';

/** What each site runs of its bundles (of the given sites, or of every site), as conformance reads it. */
export async function runningBundles(
  db: Db,
  siteIds?: readonly string[],
): Promise<Map<string, Map<string, RunningBundle>>> {
  let q = db
    .selectFrom('deployments')
    .select(['site_id', 'bundle', 'desired_revision', 'desired_digest', 'applied_digest', 'state']);
  if (siteIds) q = q.where('site_id', 'in', siteIds);
  const bySite = new Map<string, Map<string, RunningBundle>>();
  if (siteIds?.length === 0) return bySite;
  for (const d of await q.execute()) {
    const running = bySite.get(d.site_id) ?? new Map<string, RunningBundle>();
    // the hub knows the revision of what it last sent; applied it is when the site reports that digest
    const applied = d.applied_digest !== null && d.applied_digest === d.desired_digest;
    running.set(d.bundle, {
      revision: applied ? Number(d.desired_revision) : null,
      ready: applied && d.state === 'Ready',
    });
    bySite.set(d.site_id, running);
  }
  return bySite;
}

/**
 * Judges the given sites against one profile revision, each from when it was given it (a profile
 * rollout reads its sites so); sites that are gone are missing from the answer.
 */
export async function judgeSites(
  ctx: HubContext,
  db: Db,
  spec: ProfileSpec,
  sites: ReadonlyArray<{ id: string; since: Date }>,
): Promise<Map<string, SiteConformance>> {
  const out = new Map<string, SiteConformance>();
  if (sites.length === 0) return out;
  const ids = sites.map((s) => s.id);
  const bundles = await runningBundles(db, ids);
  const stacks = new Map(
    (await db.selectFrom('sites').select(['id', 'stack']).where('id', 'in', ids).execute()).map((r) => [
      r.id,
      r.stack,
    ]),
  );
  const now = ctx.now();
  for (const site of sites) {
    if (!stacks.has(site.id)) continue;
    const stack = stacks.get(site.id);
    out.set(
      site.id,
      siteConformance({
        spec,
        since: site.since,
        stack: stack ? (JSON.parse(stack) as SiteStack) : undefined,
        bundles: bundles.get(site.id) ?? new Map(),
        now,
      }),
    );
  }
  return out;
}
