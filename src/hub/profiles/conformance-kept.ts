// Each site's conformance to the profile revision it is given, kept in its profile_targets row like the
// other aggregates: judged again when its target changes, when a report changed its nodes or bundles, and
// when an Upgrading site's deadline passes; counts by profile and state (and per layer) are one query.

import { sql } from 'kysely';
import type { ProfileLayer, ProfileSpec } from '../../model/profile.ts';
import type { HubContext } from '../context.ts';
import { type Arg, type PositionalArgs, paddedArgs, paddedSize, preparedPerSize } from '../store/prepared.ts';
import type { Db } from '../store/schema.ts';
import type { SiteConformance } from './core/conformance.ts';
import { judgeSites } from './site-conformance.ts';

const layerColumns = {
  os: 'layer_os',
  kubernetes: 'layer_kubernetes',
  agent: 'layer_agent',
  addons: 'layer_addons',
  apps: 'layer_apps',
} as const satisfies Record<ProfileLayer, string>;

/** Sites per statement. */
const together = 500;

/** Judges the given sites' conformance to their targets again and keeps it (sites without one are skipped). */
export async function judgeTargets(ctx: HubContext, tx: Db, siteIds: readonly string[]): Promise<void> {
  for (let i = 0; i < siteIds.length; i += together) {
    const rows = await tx
      .selectFrom('profile_targets')
      .select(['site_id', 'profile', 'revision', 'since'])
      .where('site_id', 'in', siteIds.slice(i, i + together))
      .execute();
    const byRevision = new Map<string, typeof rows>();
    for (const r of rows) {
      const key = `${r.profile}@${Number(r.revision)}`;
      byRevision.set(key, [...(byRevision.get(key) ?? []), r]);
    }
    const now = ctx.now().toISOString();
    const judgedSites: Array<[string, SiteConformance]> = [];
    for (const given of byRevision.values()) {
      const first = given[0]!;
      const revision = await tx
        .selectFrom('profile_revisions')
        .select('spec')
        .where('profile', '=', first.profile)
        .where('revision', '=', first.revision)
        .executeTakeFirst();
      if (!revision) continue;
      const judged = await judgeSites(
        ctx,
        tx,
        JSON.parse(revision.spec) as ProfileSpec,
        given.map((r) => ({ id: r.site_id, since: new Date(r.since) })),
      );
      for (const [siteId, conformance] of judged) judgedSites.push([siteId, conformance]);
    }
    // written in site-id order, as every writer of many sites' rows does (PostgreSQL: no deadlocks)
    judgedSites.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [siteId, conformance] of judgedSites) {
      const layers = Object.fromEntries(
        Object.entries(layerColumns).map(([layer, column]) => [
          column,
          conformance.layers.find((l) => l.layer === layer)?.state ?? null,
        ]),
      );
      await tx
        .updateTable('profile_targets')
        .set({ state: conformance.state, ...layers, judged_at: now })
        .where('site_id', '=', siteId)
        .execute();
    }
  }
}

/**
 * Of a batch's sites, those with a target whose nodes or bundles changed since they were last judged;
 * compiled once per power-of-two count of sites (padded with a repeated id, which changes no result):
 * built anew for each batch of reports, the query cost a twentieth of a direct report's hub CPU.
 */
const changedSinceJudged = preparedPerSize((db, arg: Arg<PositionalArgs<string>>, size) =>
  db
    .selectFrom('profile_targets as t')
    .innerJoin('sites as s', 's.id', 't.site_id')
    .select('t.site_id')
    .where(
      't.site_id',
      'in',
      Array.from({ length: size }, (_, i) => arg(`${i}`)),
    )
    .where((eb) =>
      eb.or([
        eb('s.stack_at', '>=', eb.ref('t.judged_at')),
        eb.exists(
          eb
            .selectFrom('deployments as d')
            .select('d.site_id')
            .whereRef('d.site_id', '=', 't.site_id')
            .whereRef('d.updated_at', '>=', 't.judged_at'),
        ),
      ]),
    ),
);

/** Sites per read of judgeReported: a power of two, so the padded reads keep to ten shapes. */
const readTogether = 512;

/**
 * After reports are ingested: judges again the reporting sites that have a target and whose nodes or
 * bundles changed since they were last judged (a heartbeat that repeats itself changes neither).
 */
export async function judgeReported(ctx: HubContext, siteIds: readonly string[]): Promise<void> {
  if (siteIds.length === 0) return;
  const db = ctx.store.db;
  const changed: string[] = [];
  for (let i = 0; i < siteIds.length; i += readTogether) {
    const some = siteIds.slice(i, i + readTogether);
    const size = paddedSize(some.length);
    const { rows } = await changedSinceJudged(size)(db, paddedArgs(some, size));
    changed.push(...rows.map((r) => r.site_id));
  }
  if (changed.length > 0) await db.transaction().execute((tx) => judgeTargets(ctx, tx, changed));
}

/** Judges again the sites still Upgrading (or Unknown) past their deadline: they are Behind now. */
export async function judgeOverdue(ctx: HubContext): Promise<void> {
  const rows = await ctx.store.db
    .selectFrom('profile_targets')
    .select('site_id')
    .where('state', 'in', ['Upgrading', 'Unknown'])
    .where('deadline_at', '<=', ctx.now().toISOString())
    .whereRef('judged_at', '<', 'deadline_at')
    .execute();
  if (rows.length === 0) return;
  await ctx.store.db.transaction().execute((tx) =>
    judgeTargets(
      ctx,
      tx,
      rows.map((r) => r.site_id),
    ),
  );
}

/** Sites by profile and conformance state, as kept: `profile → state → count`. */
export async function conformanceCounts(db: Db): Promise<Map<string, Map<string, number>>> {
  const rows = await db
    .selectFrom('profile_targets')
    .select(['profile', 'state', sql<number>`count(*)`.as('n')])
    .groupBy(['profile', 'state'])
    .execute();
  const out = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const counts = out.get(r.profile) ?? new Map<string, number>();
    counts.set(r.state, Number(r.n));
    out.set(r.profile, counts);
  }
  return out;
}

/** Sites by profile, layer and the layer's conformance state, as kept. */
export async function layerCounts(
  db: Db,
): Promise<Array<{ profile: string; layer: ProfileLayer; state: string; sites: number }>> {
  const out: Array<{ profile: string; layer: ProfileLayer; state: string; sites: number }> = [];
  for (const [layer, column] of Object.entries(layerColumns) as Array<[ProfileLayer, string]>) {
    const rows = await db
      .selectFrom('profile_targets')
      .select(['profile', sql<string>`${sql.ref(column)}`.as('state'), sql<number>`count(*)`.as('n')])
      .where(sql.ref(column), 'is not', null)
      .groupBy(['profile', sql.ref(column)])
      .execute();
    for (const r of rows) out.push({ profile: r.profile, layer, state: r.state, sites: Number(r.n) });
  }
  return out;
}
