// A rollout's sites as the pure core reads them, loaded from the store with the hub's live facts and gate
// metrics: the controller decides on them, and the rollout view shows the gates evaluated over them.

import type { DeploymentState } from '../../model/deployment.ts';
import type { RolloutStrategy } from '../../model/rollout-strategy.ts';
import type { HubContext } from '../context.ts';
import type { Db, RolloutTable } from '../store/schema.ts';
import { siteGateMetrics } from '../telemetry/gate-metrics.ts';
import type { SiteProgress } from './core/state.ts';
import { siteProgressOf } from './rollout-store.ts';

/**
 * A rollout's rows as the pure core reads them: each site's row, its facts (name, connectivity, time zone,
 * the state of its deployment of the new revision) and, when the strategy has gates, its gate metrics
 * measured now. What the controller decides on and what the rollout view shows gates from.
 */
export async function loadSiteProgress(
  ctx: HubContext,
  db: Db,
  r: Pick<RolloutTable, 'id' | 'bundle' | 'to_revision'>,
  strategy: RolloutStrategy,
): Promise<{ sites: SiteProgress[]; names: Map<string, string> }> {
  const rows = await db
    .selectFrom('rollout_sites')
    .innerJoin('sites', 'sites.id', 'rollout_sites.site_id')
    .leftJoin('deployments', (j) =>
      j.onRef('deployments.site_id', '=', 'rollout_sites.site_id').on('deployments.bundle', '=', r.bundle),
    )
    .select([
      'rollout_sites.site_id',
      'rollout_sites.wave',
      'rollout_sites.status',
      'rollout_sites.started_at',
      'rollout_sites.baseline',
      'rollout_sites.reason',
      'sites.name',
      'sites.connectivity',
      'sites.properties',
      'deployments.desired_revision',
      'deployments.state',
    ])
    .where('rollout_sites.rollout_id', '=', r.id)
    .execute();
  const sites: SiteProgress[] = rows.map((row) => ({
    ...siteProgressOf(row),
    ...(row.baseline ? { baseline: JSON.parse(row.baseline) } : {}),
    // a state only counts when it is about the new revision
    ...(row.desired_revision !== null && Number(row.desired_revision) === Number(r.to_revision) && row.state
      ? { deploymentState: row.state as DeploymentState }
      : {}),
  }));
  if (strategy.gates.length > 0) {
    const now = ctx.now().getTime();
    const measured = await siteGateMetrics(db, r.bundle, sites, now, ctx.config.telemetry.gateWindowMs);
    for (const site of sites) {
      const metrics = measured.get(site.siteId);
      if (metrics) site.metrics = metrics;
    }
  }
  return { sites, names: new Map(rows.map((row) => [row.site_id, row.name])) };
}
