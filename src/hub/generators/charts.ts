// Charts at the hub: each chart's files kept in the store by digest (so whichever replica leads can
// render it after a restart) and unpacked on disk once, and one set of chart inputs rendered by the
// real Helm into objects that placement can look up, or into Helm's refusal with the chart file.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OutpostError } from '../../model/errors.ts';
import { parseManifestFiles } from '../../render/bundle-files.ts';
import type { ChartRendering, WantedRendering } from '../../render/chart-bundle.ts';
import { sourcesDirOf } from '../config.ts';
import type { HubContext } from '../context.ts';
import type { Db } from '../store/schema.ts';
import { renderChart } from './helm.ts';
import type { Helm } from './toolbox.ts';
import { type TreeFile, treeDigest, writeTree } from './tree.ts';

/** Where unpacked charts live: one folder per chart digest. */
function chartsDir(ctx: HubContext): string {
  return join(sourcesDirOf(ctx.config), 'charts');
}

/** Keeps a chart's files in the store (inside the caller's transaction); the same chart is kept once. */
export async function saveChart(tx: Db, files: readonly TreeFile[], now: string): Promise<string> {
  const digest = treeDigest(files);
  await tx
    .insertInto('chart_sources')
    .values({
      digest,
      files: JSON.stringify(
        files.map((f) => ({
          path: f.path,
          data: Buffer.from(f.data).toString('base64'),
          ...(f.executable ? { executable: true } : {}),
        })),
      ),
      created_at: now,
    })
    .onConflict((oc) => oc.column('digest').doNothing())
    .execute();
  return digest;
}

/** The chart's folder on disk, unpacked from the store when this hub has not unpacked it yet. */
async function chartFolder(ctx: HubContext, digest: string, files?: readonly TreeFile[]): Promise<string> {
  const dir = join(chartsDir(ctx), digest.slice('sha256:'.length));
  if (existsSync(dir)) return dir;
  let chart = files;
  if (!chart) {
    const row = await ctx.store.db
      .selectFrom('chart_sources')
      .select('files')
      .where('digest', '=', digest)
      .executeTakeFirst();
    if (!row) throw new OutpostError('internal', `chart ${digest} is not in the store`);
    chart = (JSON.parse(row.files) as Array<{ path: string; data: string; executable?: boolean }>).map(
      (f) => ({ path: f.path, data: Buffer.from(f.data, 'base64'), executable: f.executable === true }),
    );
  }
  return writeTree(chartsDir(ctx), chart);
}

/**
 * What Helm makes of one set of chart inputs: the objects (each with its template file and line), or
 * Helm's refusal naming the chart file. Throws only when Helm cannot run at all (`unavailable`), which
 * says nothing about the chart. `files` are the chart's files when they are not in the store yet.
 */
export async function renderWanted(
  ctx: HubContext,
  helm: Helm,
  wanted: WantedRendering,
  files?: readonly TreeFile[],
): Promise<ChartRendering> {
  const { inputs } = wanted;
  try {
    const generated = await renderChart(helm.tool, {
      chartDir: await chartFolder(ctx, inputs.chart, files),
      chartPath: wanted.chartPath,
      release: inputs.release,
      namespace: inputs.namespace,
      values: [...inputs.valuesFiles, inputs.values],
      ...(inputs.kubeVersion ? { kubeVersion: inputs.kubeVersion } : {}),
    });
    return parseManifestFiles(generated);
  } catch (e) {
    if (!(e instanceof OutpostError) || e.code === 'unavailable' || e.code === 'internal') throw e;
    return { error: { code: e.code, message: e.message, ...e.location } };
  }
}
