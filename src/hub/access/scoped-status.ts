// Counts for a token that reaches part of the fleet. The status aggregates are fleet-wide, so these are
// computed from the sites themselves: grouped queries with the token's reach compiled into their SQL,
// folded into cells by the same contributions() the aggregates are kept with, so both agree exactly.

import { sql } from 'kysely';
import type { DeploymentState } from '../../model/deployment.ts';
import type { Connectivity, Lifecycle } from '../../model/site.ts';
import type { FleetStatus } from '../../model/wire.ts';
import type { LabelSelector } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import { addDeltas, type CellCounts, cellOf, contributions, type SiteFacts } from '../status/aggregate.ts';
import { withinSql } from '../status/query-sql.ts';
import { type Cells, currentRevisions, type StatusCells, statusOf } from '../status/summary.ts';

interface GroupRow {
  lifecycle: string;
  connectivity: string;
  n: number | string;
  [label: `l${number}`]: string | null;
}

interface DeploymentGroupRow extends GroupRow {
  bundle: string;
  revision: number | string | null;
  state: string;
}

function factsOf(row: GroupRow, labelKeys: readonly string[]): SiteFacts {
  const labels: Record<string, string> = {};
  labelKeys.forEach((k, i) => {
    const v = row[`l${i}`];
    if (typeof v === 'string') labels[k] = v;
  });
  return {
    name: '',
    lifecycle: row.lifecycle as Lifecycle,
    connectivity: row.connectivity as Connectivity,
    connectivitySince: '',
    labels,
    deployments: [],
  };
}

function times(counts: CellCounts, n: number): CellCounts {
  return new Map([...counts].map(([id, c]) => [id, c * n]));
}

/** The cells of the sites these selectors pick, as the aggregates would hold them for those sites alone. */
export async function cellsWithin(ctx: HubContext, within: readonly LabelSelector[]): Promise<StatusCells> {
  const d = ctx.store.sql;
  const labelKeys = ctx.config.aggregateLabels;
  const labels = labelKeys.map((k, i) => sql`${d.label(k)} as ${sql.ref(`l${i}`)}`);
  const labelRefs = labelKeys.map((_, i) => sql.ref(`l${i}`));
  const where = withinSql(within, d);
  const siteGroups = sql.join([sql.ref('lifecycle'), sql.ref('connectivity'), ...labelRefs]);
  const { rows: sites } = await sql<GroupRow>`select ${sql.join([
    sql`s.lifecycle as lifecycle`,
    sql`s.connectivity as connectivity`,
    ...labels,
    sql`count(*) as n`,
  ])} from sites s where ${where} group by ${siteGroups}`.execute(ctx.store.db);
  const { rows: deployments } = await sql<DeploymentGroupRow>`select ${sql.join([
    sql`s.lifecycle as lifecycle`,
    sql`s.connectivity as connectivity`,
    ...labels,
    sql`d.bundle as bundle`,
    sql`d.desired_revision as revision`,
    sql`d.state as state`,
    sql`count(*) as n`,
  ])} from sites s join deployments d on d.site_id = s.id and d.desired_digest is not null
    where ${where}
    group by ${sql.join([siteGroups, sql.ref('bundle'), sql.ref('revision'), sql.ref('state')])}`.execute(
    ctx.store.db,
  );

  const counts: CellCounts = new Map();
  for (const row of sites)
    addDeltas(counts, times(contributions(factsOf(row, labelKeys), labelKeys), Number(row.n)));
  for (const row of deployments) {
    // what one placed deployment adds: the site with it, less the site alone (counted above)
    const bare = factsOf(row, labelKeys);
    const deployment = {
      bundle: row.bundle,
      revision: row.revision === null ? null : Number(row.revision),
      state: row.state as DeploymentState,
      placed: true,
      stateSince: '',
      message: '',
    };
    const withIt = contributions({ ...bare, deployments: [deployment] }, labelKeys);
    for (const [id, c] of contributions(bare, labelKeys)) withIt.set(id, (withIt.get(id) ?? 0) - c);
    addDeltas(counts, times(withIt, Number(row.n)));
  }

  const byDimension = new Map<string, Cells>();
  for (const [id, n] of counts) {
    const { dimension, key, metric } = cellOf(id);
    const cells = byDimension.get(dimension) ?? new Map<string, Map<string, number>>();
    const m = cells.get(key) ?? new Map<string, number>();
    m.set(metric, n);
    cells.set(key, m);
    byDimension.set(dimension, cells);
  }
  return {
    fleet: byDimension.get('fleet')?.get(''),
    bundle: byDimension.get('bundle') ?? new Map(),
    revision: byDimension.get('revision') ?? new Map(),
    label: byDimension.get('label') ?? new Map(),
  };
}

/** The fleet status over the sites these selectors pick (GET /status for a scoped token). */
export async function fleetStatusWithin(
  ctx: HubContext,
  within: readonly LabelSelector[],
): Promise<FleetStatus> {
  return statusOf(await cellsWithin(ctx, within), await currentRevisions(ctx.store.db));
}

/** Per bundle, its placed deployments on these sites by state (only states that occur). */
export async function bundleStatesWithin(
  ctx: HubContext,
  within: readonly LabelSelector[],
  bundle?: string,
): Promise<Map<string, Record<string, number>>> {
  const only = bundle === undefined ? sql`` : sql` and d.bundle = ${bundle}`;
  const { rows } = await sql<{ bundle: string; state: string; n: number | string }>`select d.bundle as bundle,
      d.state as state, count(*) as n
    from sites s join deployments d on d.site_id = s.id and d.desired_digest is not null${only}
    where ${withinSql(within, ctx.store.sql)} group by d.bundle, d.state`.execute(ctx.store.db);
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const m = out.get(r.bundle) ?? {};
    m[r.state] = Number(r.n);
    out.set(r.bundle, m);
  }
  return out;
}
