// The step between reading a source's revision and storing it: bundles whose manifests a tool makes get
// them made, outside any transaction. A kustomization is built once and its output becomes the bundle's
// manifests (overlays and placeholders still apply). A chart gets the dependencies charts/ lacks
// fetched, is pinned by the digest of its files with them, and is rendered, once per distinct set of
// inputs, for every site the bundle targets now, so a template error or a missing required value
// rejects the revision with the chart file and Helm's message.

import { join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OutpostError } from '../../model/errors.ts';
import { parseBundleFiles } from '../../render/bundle-files.ts';
import type { ChartRendering, WantedRendering } from '../../render/chart-bundle.ts';
import {
  chartInputDigest,
  chartInputsFor,
  type HelmSpec,
  type StoredHelm,
} from '../../render/generator-spec.ts';
import { FieldError } from '../../render/placeholders.ts';
import type { FleetDefinition } from '../bundles/definitions.ts';
import { checkBundleBytes, checkLimits } from '../bundles/revisions.ts';
import { sourcesDirOf } from '../config.ts';
import type { HubContext } from '../context.ts';
import { placementBundleOf, siteColumns, toPlacementSite } from '../placement/place.ts';
import { planPlacement } from '../placement/plan.ts';
import { loadRenderings } from '../placement/renderings.ts';
import { buildChartDependencies } from './chart-dependencies.ts';
import { renderWanted } from './charts.ts';
import { pullChart } from './helm.ts';
import { buildKustomization } from './kustomize.ts';
import { type Helm, helmOf, kustomizeOf } from './toolbox.ts';
import { type TreeFile, treeDigest, writeTree } from './tree.ts';

export interface GeneratedFleet {
  /** every definition ready to store: generated ones with their manifests or their pinned chart */
  definitions: FleetDefinition[];
  /** the files of each chart the definitions pin, by digest, to keep in the store */
  charts: Map<string, TreeFile[]>;
  /** renderings made while checking the charts, to keep with the revision */
  renderings: Array<{ wanted: WantedRendering; rendering: ChartRendering }>;
  errors: OutpostError[];
}

export interface GenerationInput {
  definitions: readonly FleetDefinition[];
  /** every file of the revision under the source's folder, paths as in the repository */
  tree: readonly TreeFile[];
  /** strategies the bundles may name (for reading a kustomized bundle again with its manifests) */
  strategies: ReadonlySet<string>;
}

/** A path relative to a bundle's folder, as the repository names it; undefined when it climbs out. */
function inRepository(dir: string, relative: string): string | undefined {
  const joined = posix.normalize(posix.join(dir, relative)).replace(/\/$/, '');
  return joined.startsWith('..') || joined.startsWith('/') ? undefined : joined === '.' ? '' : joined;
}

/** The error as a problem of the bundle: one that names no file (no helm, say) names the Bundle's. */
function asError(e: unknown, file: string): OutpostError {
  if (!(e instanceof OutpostError)) return new OutpostError('bundle_invalid', (e as Error).message, { file });
  if (e.location.file) return e;
  return new OutpostError(e.code, e.message, { ...e.location, file });
}

/**
 * Makes the manifests of the generated bundles among `input.definitions`; the others pass as they are.
 * @example const generated = await generateFleet(ctx, { definitions, tree, strategies });
 */
export async function generateFleet(ctx: HubContext, input: GenerationInput): Promise<GeneratedFleet> {
  const out: GeneratedFleet = { definitions: [], charts: new Map(), renderings: [], errors: [] };
  let root: string | undefined;
  const treeOnDisk = async () => {
    root ??= await writeTree(join(sourcesDirOf(ctx.config), 'trees'), input.tree);
    return root;
  };
  for (const def of input.definitions) {
    const generator = def.parsed.definition.generator;
    const bundleFile = def.files[0]!.path;
    try {
      if (generator?.kustomize) {
        out.definitions.push(await kustomized(ctx, def, generator.kustomize.path, await treeOnDisk(), input));
      } else if (generator?.helm) {
        const charted = await chartedDefinition(ctx, def, generator.helm, input.tree, treeOnDisk, out);
        if (charted) out.definitions.push(charted);
      } else out.definitions.push(def);
    } catch (e) {
      out.errors.push(asError(e, bundleFile));
    }
  }
  return out;
}

async function kustomized(
  ctx: HubContext,
  def: FleetDefinition,
  path: string,
  root: string,
  input: GenerationInput,
): Promise<FleetDefinition> {
  const dir = inRepository(def.dir, path);
  if (dir === undefined) {
    throw new OutpostError('bundle_invalid', `spec.kustomize.path ${path} climbs out of the repository`, {
      file: def.files[0]!.path,
    });
  }
  const built = await buildKustomization(kustomizeOf(ctx.config), { root, dir });
  const files = [...def.files, built];
  checkBundleBytes(files, ctx.config.limits, `the bundle built by ${built.path}`);
  const parsed = parseBundleFiles(files, { strategies: input.strategies, skipFleetDocuments: true });
  checkLimits(parsed, ctx.config.limits);
  return { ...def, parsed, files };
}

/**
 * The chart's files relative to its folder: pulled by version, or from the repository with the
 * dependencies charts/ lacks fetched (a pulled chart carries its own).
 */
async function chartFiles(
  ctx: HubContext,
  helm: Helm,
  def: FleetDefinition,
  spec: HelmSpec,
  tree: readonly TreeFile[],
  treeOnDisk: () => Promise<string>,
): Promise<{ files: TreeFile[]; chartPath: string }> {
  const bundleFile = def.files[0]!.path;
  const { chart } = spec;
  if (chart.repository) {
    const oci = chart.repository.startsWith('oci://');
    const host = new URL(oci ? `https://${chart.repository.slice('oci://'.length)}` : chart.repository).host;
    const pulled = await pullChart(helm.tool, {
      repository: chart.repository,
      ...(chart.name ? { chart: chart.name } : {}),
      version: chart.version!,
      plainHttp: oci && ctx.config.generators.helmPlainHttp.includes(host),
      ...loginAt(ctx, host, def.files[0]!.path),
    });
    const named = oci ? chart.repository : `${chart.repository} ${chart.name}`;
    return { files: pulled.files, chartPath: `${named}:${chart.version}` };
  }
  const dir = inRepository(def.dir, chart.path ?? '.');
  const prefix = dir ? `${dir}/` : '';
  const files = dir === undefined ? [] : tree.filter((f) => f.path.startsWith(prefix));
  if (!files.some((f) => f.path === `${prefix}Chart.yaml`)) {
    throw new OutpostError(
      'bundle_invalid',
      `spec.helm.chart: no chart at ${dir ?? chart.path} (a chart folder holds Chart.yaml)`,
      { file: bundleFile },
    );
  }
  const fetched = await buildChartDependencies(helm.tool, {
    root: await treeOnDisk(),
    tree,
    dir: dir!,
    cacheDir: join(sourcesDirOf(ctx.config), 'chart-dependencies'),
    plainHttpHosts: ctx.config.generators.helmPlainHttp,
  });
  // the Bundle document itself is not part of a chart kept in the bundle's own folder
  const own = new Set(def.files.map((f) => f.path));
  return {
    files: [...files, ...fetched]
      .filter((f) => !own.has(f.path))
      .map((f) => ({ ...f, path: f.path.slice(prefix.length) })),
    chartPath: dir ?? '',
  };
}

/** The hub's user at a chart registry or repository (hub --helm-login), when it has one there. */
function loginAt(ctx: HubContext, host: string, file: string): { username?: string; password?: string } {
  const login = ctx.config.generators.helmLogins.find((l) => l.host === host);
  if (!login) return {};
  const password = process.env[login.passwordEnv];
  if (password === undefined) {
    throw new OutpostError(
      'source_failed',
      `the hub's login at ${host} reads its password from ${login.passwordEnv}, which is not set in the hub's environment`,
      { file },
    );
  }
  return { username: login.username, password };
}

/** spec.helm.valuesFiles read from the repository, each a YAML mapping. */
function valuesFilesOf(
  def: FleetDefinition,
  spec: HelmSpec,
  tree: readonly TreeFile[],
): Record<string, unknown>[] {
  return spec.valuesFiles.map((relative) => {
    const path = inRepository(def.dir, relative);
    const file = tree.find((f) => f.path === path);
    if (!file) {
      throw new OutpostError(
        'bundle_invalid',
        `spec.helm.valuesFiles: ${relative} is not in the repository`,
        {
          file: def.files[0]!.path,
        },
      );
    }
    let value: unknown;
    try {
      value = parseYaml(new TextDecoder().decode(file.data as Uint8Array), { version: '1.1' }) ?? {};
    } catch (e) {
      const line = (e as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
      throw new OutpostError('bundle_invalid', `invalid YAML: ${(e as Error).message.split('\n')[0]}`, {
        file: file.path,
        ...(line ? { line } : {}),
      });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new OutpostError('bundle_invalid', 'a values file is a mapping of chart values', {
        file: file.path,
      });
    }
    return value as Record<string, unknown>;
  });
}

/**
 * Pins a chart bundle's chart and checks it renders: for every site the bundle targets now (or, with
 * none, for no site at all when its values read no site), each distinct set of inputs not rendered
 * before is rendered by Helm. When Helm refuses every one of them the chart is broken: its refusals go
 * to `out.errors` and the revision is rejected. When it refuses only some, those sites fail alone with
 * Helm's message, as a site missing a value its inputs read does for written manifests. An overlay that
 * fits no rendered object rejects the revision.
 */
async function chartedDefinition(
  ctx: HubContext,
  def: FleetDefinition,
  spec: HelmSpec,
  tree: readonly TreeFile[],
  treeOnDisk: () => Promise<string>,
  out: GeneratedFleet,
): Promise<FleetDefinition | undefined> {
  const helm = await helmOf(ctx.config);
  const { files, chartPath } = await chartFiles(ctx, helm, def, spec, tree, treeOnDisk);
  const stored: StoredHelm = {
    // the digest the store keeps the chart by (charts.ts saveChart names it the same way)
    chart: treeDigest(files),
    chartPath,
    release: spec.releaseName,
    valuesFiles: valuesFilesOf(def, spec, tree),
    values: spec.values,
    helm: helm.version,
    origin: spec.origin,
  };
  const parsed = { ...def.parsed, chart: stored };

  const bundle = placementBundleOf(parsed, 0);
  const sites = (await ctx.store.db.selectFrom('sites').select(siteColumns).execute()).map(toPlacementSite);
  const wanted = new Map(planPlacement(sites, [bundle], []).wanted);
  if (wanted.size === 0) {
    const probe = probeInputs(stored, def);
    if (probe) wanted.set(probe.digest, probe);
  }
  const renderings = await loadRenderings(ctx.store.db, [...wanted.keys()]);
  const made: GeneratedFleet['renderings'] = [];
  for (const w of wanted.values()) {
    if (renderings.has(w.digest)) continue;
    const rendering = await renderWanted(ctx, helm, w, files);
    if ('objects' in rendering && rendering.objects.length > ctx.config.limits.maxBundleObjects) {
      throw new OutpostError(
        'bundle_invalid',
        `the chart renders ${rendering.objects.length} objects; the hub's limit is ${ctx.config.limits.maxBundleObjects} (hub --max-bundle-objects)`,
        { file: chartPath },
      );
    }
    renderings.set(w.digest, rendering);
    made.push({ wanted: w, rendering });
  }
  const outcomes = [...wanted.keys()].map((d) => renderings.get(d)!);
  if (outcomes.length > 0 && outcomes.every((r) => 'error' in r)) {
    const refusals = new Map<string, OutpostError>();
    for (const r of outcomes) {
      if (!('error' in r)) continue;
      const { code, message, ...where } = r.error;
      refusals.set(JSON.stringify(r.error), new OutpostError(code, message, where));
    }
    out.errors.push(...refusals.values());
    return undefined;
  }
  const checked = planPlacement(sites, [bundle], [], new Map(), renderings);
  const invalid = checked.fail.find((f) => f.error.code === 'bundle_invalid');
  if (invalid) {
    throw new OutpostError('bundle_invalid', invalid.error.message, invalid.error.location);
  }
  out.charts.set(stored.chart, files);
  out.renderings.push(...made);
  return { ...def, parsed };
}

/** The inputs of a chart bundle no site is targeted by, when its values read no site; else undefined. */
function probeInputs(helm: StoredHelm, def: FleetDefinition): WantedRendering | undefined {
  const { namespace, fleet } = def.parsed.definition;
  try {
    const inputs = chartInputsFor(
      helm,
      namespace ?? 'default',
      { name: '', labels: {}, properties: {} },
      fleet.customization.values ?? {},
      undefined,
    );
    return { digest: chartInputDigest(inputs), inputs, chartPath: helm.chartPath };
  } catch (e) {
    if (e instanceof OutpostError || e instanceof FieldError) return undefined;
    throw e;
  }
}
