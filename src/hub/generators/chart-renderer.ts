// The leader's chart renderer: placement asks for the chart inputs a site needs and nobody rendered yet
// (a site that joined, one whose properties or Kubernetes version changed); this renders each with the
// real Helm, stores the objects or Helm's refusal, and places the chart bundles again so the sites that
// waited get their objects, or fail alone with Helm's message.

import { OutpostError } from '../../model/errors.ts';
import type { ChartRendering, WantedRendering } from '../../render/chart-bundle.ts';
import type { ChartInputs } from '../../render/generator-spec.ts';
import type { StoredFleet } from '../bundles/revisions.ts';
import type { HubContext } from '../context.ts';
import { markPlacementDue, placeBundles } from '../placement/place.ts';
import { storeRendering } from '../placement/renderings.ts';
import { renderWanted } from './charts.ts';
import { helmOf } from './toolbox.ts';

/** Renderings done per pass, so one pass stays short and placement follows soon. */
const perPass = 16;
const quietMs = 60_000;
let lastComplaint = 0;

/** Renders what placement asked for; returns how many renderings it stored. */
export async function renderWantedCharts(ctx: HubContext): Promise<number> {
  const db = ctx.store.db;
  const rows = await db
    .selectFrom('chart_renderings')
    .select(['digest', 'chart_path', 'inputs'])
    .where('state', '=', 'wanted')
    .orderBy('created_at')
    .limit(perPass)
    .execute();
  if (rows.length === 0) return 0;
  let helm: Awaited<ReturnType<typeof helmOf>>;
  try {
    helm = await helmOf(ctx.config);
  } catch (e) {
    // the sites keep waiting, and say so; the hub's log says why, now and then
    if (!(e instanceof OutpostError) || Date.now() - lastComplaint < quietMs) return 0;
    lastComplaint = Date.now();
    ctx.log.info('chart renderings wait', { count: rows.length, error: e.message });
    return 0;
  }
  const made: Array<{ wanted: WantedRendering; rendering: ChartRendering }> = [];
  for (const row of rows) {
    const wanted = {
      digest: row.digest,
      chartPath: row.chart_path,
      inputs: JSON.parse(row.inputs) as ChartInputs,
    };
    made.push({ wanted, rendering: await renderWanted(ctx, helm, wanted) });
  }
  // the renderings and the placement they call for commit together: a renderer that dies before the
  // placement ends leaves it due, and the leader runs it again (placeOverdue)
  const charts = await chartBundles(ctx);
  await db.transaction().execute(async (tx) => {
    const now = ctx.now().toISOString();
    for (const { wanted, rendering } of made) await storeRendering(tx, wanted, rendering, now);
    await markPlacementDue(ctx, tx, charts);
  });
  await placeBundles(ctx, charts);
  return rows.length;
}

/** Bundles whose current revision is a chart bundle. */
async function chartBundles(ctx: HubContext): Promise<string[]> {
  const rows = await ctx.store.db
    .selectFrom('bundles')
    .innerJoin('bundle_revisions', (j) =>
      j
        .onRef('bundle_revisions.bundle', '=', 'bundles.name')
        .onRef('bundle_revisions.revision', '=', 'bundles.revision'),
    )
    .select(['bundles.name', 'bundle_revisions.fleet'])
    .execute();
  return rows.filter((r) => (JSON.parse(r.fleet) as StoredFleet).helm).map((r) => r.name);
}
