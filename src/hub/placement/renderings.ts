// Chart renderings in the store: what placement looks up by input digest (Helm's objects, or its
// refusal), what it asks for when a site needs inputs nobody rendered yet, and what the renderer and a
// sync write back. Rows are content-addressed, so a rendering made once serves every site and revision
// with the same inputs.

import type { ChartRendering, WantedRendering } from '../../render/chart-bundle.ts';
import type { Db } from '../store/schema.ts';

const chunk = 500;

/** The renderings made (or refused) for these input digests; digests still wanted are left out. */
export async function loadRenderings(
  db: Db,
  digests: readonly string[],
): Promise<Map<string, ChartRendering>> {
  const out = new Map<string, ChartRendering>();
  for (let i = 0; i < digests.length; i += chunk) {
    const rows = await db
      .selectFrom('chart_renderings')
      .select(['digest', 'result'])
      .where('digest', 'in', digests.slice(i, i + chunk))
      .where('state', '!=', 'wanted')
      .execute();
    for (const r of rows) if (r.result) out.set(r.digest, JSON.parse(r.result) as ChartRendering);
  }
  return out;
}

/** Rows per multi-row statement when asking for renderings: far below both engines' parameter limits. */
const wantedPerStatement = 200;

/**
 * Asks for renderings (inside the placement chunk's transaction, a few rows per statement); one already
 * asked for or made stays as it is.
 */
export async function wantRenderings(
  tx: Db,
  wanted: ReadonlyMap<string, WantedRendering>,
  now: string,
): Promise<void> {
  const rows = [...wanted.values()].map((w) => ({
    digest: w.digest,
    chart: w.inputs.chart,
    chart_path: w.chartPath,
    inputs: JSON.stringify(w.inputs),
    state: 'wanted',
    result: null,
    created_at: now,
    rendered_at: null,
  }));
  for (let i = 0; i < rows.length; i += wantedPerStatement) {
    await tx
      .insertInto('chart_renderings')
      .values(rows.slice(i, i + wantedPerStatement))
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
  }
}

/** Records what Helm made of a rendering's inputs, whether it was asked for before or not. */
export async function storeRendering(
  db: Db,
  wanted: WantedRendering,
  rendering: ChartRendering,
  now: string,
): Promise<void> {
  const values = {
    state: 'error' in rendering ? 'failed' : 'rendered',
    result: JSON.stringify(rendering),
    rendered_at: now,
  };
  await db
    .insertInto('chart_renderings')
    .values({
      digest: wanted.digest,
      chart: wanted.inputs.chart,
      chart_path: wanted.chartPath,
      inputs: JSON.stringify(wanted.inputs),
      created_at: now,
      ...values,
    })
    .onConflict((oc) => oc.column('digest').doUpdateSet(values))
    .execute();
}
