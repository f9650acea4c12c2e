// What rollout gates measure: each site's SLIs for the bundle over the recent past, from the per-site
// buckets, counting only buckets that began after the site was given the new revision (so a started
// site is judged on the new revision alone; one not started yet gives its baseline). No data stays absent.

import { bucketStart, gateMetrics, type SliBucket } from '../slo/core/buckets.ts';
import type { Db } from '../store/schema.ts';
import { bucketFromRow } from './sli-store.ts';

const chunk = 500;

export async function siteGateMetrics(
  db: Db,
  bundle: string,
  sites: readonly { siteId: string; startedAt?: string }[],
  nowMs: number,
  windowMs: number,
): Promise<Map<string, Record<string, number>>> {
  const from = bucketStart(nowMs - windowMs);
  const buckets = new Map<string, SliBucket[]>();
  for (let i = 0; i < sites.length; i += chunk) {
    const rows = await db
      .selectFrom('sli_site_buckets')
      .selectAll()
      .where('bundle', '=', bundle)
      .where('bucket_start', '>=', from)
      .where(
        'site_id',
        'in',
        sites.slice(i, i + chunk).map((s) => s.siteId),
      )
      .execute();
    for (const row of rows) {
      const list = buckets.get(row.site_id) ?? [];
      list.push(bucketFromRow(row));
      buckets.set(row.site_id, list);
    }
  }
  const out = new Map<string, Record<string, number>>();
  for (const s of sites) {
    const since = s.startedAt ? Math.max(from, Date.parse(s.startedAt)) : from;
    const metrics = gateMetrics(buckets.get(s.siteId) ?? [], since);
    if (Object.keys(metrics).length > 0) out.set(s.siteId, metrics);
  }
  return out;
}
