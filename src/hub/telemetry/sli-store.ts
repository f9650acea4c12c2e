// Where SLI buckets live: per-site 5-minute buckets and per-SLO totals, upserted with merge expressions
// (counts add, gauges keep the maximum) so batches arriving in any order, late or in parts, add up to the
// same rows. The SQL is portable: ON CONFLICT … DO UPDATE with `excluded` runs on SQLite and PostgreSQL.

import { sql } from 'kysely';
import type { SliBucket } from '../slo/core/buckets.ts';
import type { Db, SliSiteBucketTable } from '../store/schema.ts';

const chunk = 400;

const addCount = (col: string) =>
  sql<number>`case when excluded.${sql.ref(col)} is null then ${sql.ref(`sli_site_buckets.${col}`)} else coalesce(${sql.ref(`sli_site_buckets.${col}`)}, 0) + excluded.${sql.ref(col)} end`;
const keepMax = (col: string) =>
  sql<number>`case when excluded.${sql.ref(col)} is null then ${sql.ref(`sli_site_buckets.${col}`)} when ${sql.ref(`sli_site_buckets.${col}`)} is null or excluded.${sql.ref(col)} > ${sql.ref(`sli_site_buckets.${col}`)} then excluded.${sql.ref(col)} else ${sql.ref(`sli_site_buckets.${col}`)} end`;

/** Adds a site's buckets to the stored ones. */
export async function upsertSiteBuckets(
  tx: Db,
  siteId: string,
  buckets: readonly SliBucket[],
): Promise<void> {
  for (let i = 0; i < buckets.length; i += chunk) {
    await tx
      .insertInto('sli_site_buckets')
      .values(
        buckets.slice(i, i + chunk).map((b) => ({
          site_id: siteId,
          bundle: b.bundle,
          bucket_start: b.start,
          requests: b.requests ?? null,
          errors: b.errors ?? null,
          slow: b.slow ?? null,
          latency_max: b.latencyMax ?? null,
          saturation_max: b.saturationMax ?? null,
          samples: b.samples,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['site_id', 'bundle', 'bucket_start']).doUpdateSet({
          requests: addCount('requests'),
          errors: addCount('errors'),
          slow: addCount('slow'),
          latency_max: keepMax('latency_max'),
          saturation_max: keepMax('saturation_max'),
          samples: sql<number>`sli_site_buckets.samples + excluded.samples`,
        }),
      )
      .execute();
  }
}

export interface SloTotals {
  start: number;
  requests: number;
  errors: number;
  slow: number;
}

/** Adds totals to an SLO's buckets. */
export async function addSloTotals(tx: Db, slo: string, totals: readonly SloTotals[]): Promise<void> {
  for (let i = 0; i < totals.length; i += chunk) {
    await tx
      .insertInto('slo_buckets')
      .values(
        totals.slice(i, i + chunk).map((t) => ({
          slo,
          bucket_start: t.start,
          requests: t.requests,
          errors: t.errors,
          slow: t.slow,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['slo', 'bucket_start']).doUpdateSet({
          requests: sql<number>`slo_buckets.requests + excluded.requests`,
          errors: sql<number>`slo_buckets.errors + excluded.errors`,
          slow: sql<number>`slo_buckets.slow + excluded.slow`,
        }),
      )
      .execute();
  }
}

/** A stored row as the pure core's bucket. */
export function bucketFromRow(
  row: Pick<
    SliSiteBucketTable,
    'bundle' | 'bucket_start' | 'requests' | 'errors' | 'slow' | 'latency_max' | 'saturation_max' | 'samples'
  >,
): SliBucket {
  const b: SliBucket = { bundle: row.bundle, start: Number(row.bucket_start), samples: Number(row.samples) };
  if (row.requests !== null) b.requests = Number(row.requests);
  if (row.errors !== null) b.errors = Number(row.errors);
  if (row.slow !== null) b.slow = Number(row.slow);
  if (row.latency_max !== null) b.latencyMax = Number(row.latency_max);
  if (row.saturation_max !== null) b.saturationMax = Number(row.saturation_max);
  return b;
}

/** A site bucket's counts as SLO totals (an unreported count is 0 there: SLO totals only add). */
export function totalsOf(b: SliBucket): SloTotals {
  return { start: b.start, requests: b.requests ?? 0, errors: b.errors ?? 0, slow: b.slow ?? 0 };
}

export const hourMs = 3_600_000;

/** Adds a site's bucket counts to its bundles' fleet-wide hourly counts. */
export async function addBundleHours(tx: Db, buckets: readonly SliBucket[]): Promise<void> {
  const hours = new Map<
    string,
    { bundle: string; hour_start: number; requests: number; errors: number; slow: number }
  >();
  for (const b of buckets) {
    if (b.requests === undefined && b.errors === undefined && b.slow === undefined) continue;
    const hour = Math.floor(b.start / hourMs) * hourMs;
    const key = `${b.bundle}\u0000${hour}`;
    const h = hours.get(key) ?? { bundle: b.bundle, hour_start: hour, requests: 0, errors: 0, slow: 0 };
    h.requests += b.requests ?? 0;
    h.errors += b.errors ?? 0;
    h.slow += b.slow ?? 0;
    hours.set(key, h);
  }
  if (hours.size === 0) return;
  await tx
    .insertInto('sli_bundle_hourly')
    .values([...hours.values()])
    .onConflict((oc) =>
      oc.columns(['bundle', 'hour_start']).doUpdateSet({
        requests: sql<number>`sli_bundle_hourly.requests + excluded.requests`,
        errors: sql<number>`sli_bundle_hourly.errors + excluded.errors`,
        slow: sql<number>`sli_bundle_hourly.slow + excluded.slow`,
      }),
    )
    .execute();
}
