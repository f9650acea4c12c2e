// The fleet at one glance, read from the status aggregates (a few hundred rows at most, whatever the
// fleet's size): sites by lifecycle and connectivity, deployments by state, per bundle (and its current
// revision) and per value of each aggregated label.

import { deploymentStates } from '../../model/deployment.ts';
import { connectivities, lifecycles } from '../../model/site.ts';
import type { FleetStatus } from '../../model/wire.ts';
import type { HubContext } from '../context.ts';
import type { Db } from '../store/schema.ts';
import { revisionKey } from './aggregate.ts';
import { readAggregates } from './aggregate-store.ts';

export type Cells = Map<string, Map<string, number>>;

/** Every aggregate row of the given dimension, pending changes included: key → metric → count. */
export async function readCells(db: Db, dimension: string): Promise<Cells> {
  const out: Cells = new Map();
  for (const r of await readAggregates(db, dimension)) {
    const m = out.get(r.key) ?? new Map<string, number>();
    m.set(r.metric, r.count);
    out.set(r.key, m);
  }
  return out;
}

function countsOf(cells: Map<string, number> | undefined, prefix: string, keys: readonly string[]) {
  return Object.fromEntries(keys.map((k) => [k, cells?.get(`${prefix}:${k}`) ?? 0]));
}

/** States are listed only when they occur (as BundleView.states always was); connectivity in full. */
function occurring(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n !== 0));
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** The aggregate cells a status is made of, by dimension: key → metric → count. */
export interface StatusCells {
  fleet: Map<string, number> | undefined;
  bundle: Cells;
  revision: Cells;
  label: Cells;
}

export async function fleetStatus(ctx: HubContext): Promise<FleetStatus> {
  const db = ctx.store.db;
  const cells: StatusCells = {
    fleet: (await readCells(db, 'fleet')).get(''),
    bundle: await readCells(db, 'bundle'),
    revision: await readCells(db, 'revision'),
    label: await readCells(db, 'label'),
  };
  return statusOf(cells, await currentRevisions(db));
}

export function currentRevisions(db: Db): Promise<Array<{ name: string; revision: number }>> {
  return db.selectFrom('bundles').select(['name', 'revision']).orderBy('name').execute();
}

/** The status the cells say, for these bundles at their current revisions. */
export function statusOf(
  cells: StatusCells,
  bundles: ReadonlyArray<{ name: string; revision: number }>,
): FleetStatus {
  const { fleet, bundle: bundleCells, revision: revisionCells, label: labelCells } = cells;
  const byState = countsOf(fleet, 'state', deploymentStates);
  return {
    sites: {
      total: fleet?.get('sites') ?? 0,
      byLifecycle: countsOf(fleet, 'lifecycle', lifecycles),
      byConnectivity: countsOf(fleet, 'connectivity', connectivities),
    },
    deployments: { total: sum(byState), byState: occurring(byState) },
    bundles: bundles.map((b) => {
      const cells = bundleCells.get(b.name);
      const states = countsOf(cells, 'state', deploymentStates);
      const current = countsOf(
        revisionCells.get(revisionKey(b.name, Number(b.revision))),
        'state',
        deploymentStates,
      );
      return {
        name: b.name,
        revision: Number(b.revision),
        sites: sum(states),
        byState: occurring(states),
        byConnectivity: countsOf(cells, 'connectivity', connectivities),
        currentRevision: { sites: sum(current), byState: occurring(current) },
      };
    }),
    labels: [...labelCells]
      .filter(([, cells]) => (cells.get('sites') ?? 0) > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, cells]) => {
        const i = key.indexOf('=');
        return {
          label: key.slice(0, i),
          value: key.slice(i + 1),
          sites: cells.get('sites') ?? 0,
          byConnectivity: countsOf(cells, 'connectivity', connectivities),
          byState: occurring(countsOf(cells, 'state', deploymentStates)),
        };
      }),
  };
}

/** Per bundle, its placed deployments by state (only states that occur). */
export async function bundleStateCounts(
  ctx: HubContext,
  bundle?: string,
): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  for (const r of await readAggregates(ctx.store.db, 'bundle')) {
    if (!r.metric.startsWith('state:') || r.count <= 0) continue;
    if (bundle !== undefined && r.key !== bundle) continue;
    const m = out.get(r.key) ?? {};
    m[r.metric.slice('state:'.length)] = r.count;
    out.set(r.key, m);
  }
  return out;
}
