// The fleet at one glance: sites by lifecycle and connectivity, deployments by state, per bundle.
// Counting is pure over rows here; the status issue replaces the row scan with incremental aggregates.

import { type Connectivity, connectivities, connectivityOf, lifecycles } from '../../model/site.ts';
import type { FleetStatus } from '../../model/wire.ts';
import { bundleSummaries, listBundles } from '../bundles/bundles.ts';
import type { HubContext } from '../context.ts';

function zeroes(keys: readonly string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, 0]));
}

export async function fleetStatus(ctx: HubContext): Promise<FleetStatus> {
  const db = ctx.store.db;
  const sites = await db
    .selectFrom('sites')
    .select(['lifecycle', 'last_seen_at', 'cert_expires_at'])
    .execute();
  const byLifecycle = zeroes(lifecycles);
  const byConnectivity = zeroes(connectivities);
  const now = ctx.now();
  for (const s of sites) {
    byLifecycle[s.lifecycle] = (byLifecycle[s.lifecycle] ?? 0) + 1;
    if (s.lifecycle !== 'Active') continue;
    const c: Connectivity = connectivityOf(
      s.last_seen_at ? new Date(s.last_seen_at) : undefined,
      now,
      ctx.config.connectivity,
      s.cert_expires_at ? new Date(s.cert_expires_at) : undefined,
    );
    byConnectivity[c] = (byConnectivity[c] ?? 0) + 1;
  }
  const byStateRows = await db
    .selectFrom('deployments')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('desired_digest', 'is not', null)
    .groupBy('state')
    .execute();
  const byState: Record<string, number> = {};
  let total = 0;
  for (const r of byStateRows) {
    byState[r.state] = Number(r.n);
    total += Number(r.n);
  }
  return {
    sites: { total: sites.length, byLifecycle, byConnectivity },
    deployments: { total, byState },
    bundles: bundleSummaries(await listBundles(ctx)),
  };
}
