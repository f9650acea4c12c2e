// A chart's dependencies fetched by the real Helm (`helm dependency build`) when Chart.yaml declares
// some that charts/ does not hold: run on a scratch copy of the source tree, never on a checkout, and
// kept by the digest of everything the build read, so a commit synced again fetches nothing.

import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OutpostError } from '../../model/errors.ts';
import { type HelmTool, helmHome, helmSaid, notRunnable } from './helm.ts';
import { runProgram } from './program.ts';
import { type TreeFile, treeDigest } from './tree.ts';

export interface ChartDependencyBuild {
  /** the source tree on disk (never changed: the build runs on a copy) */
  root: string;
  /** every file of that tree, paths as in `root` */
  tree: readonly TreeFile[];
  /** the chart's folder inside the tree */
  dir: string;
  /** where fetched dependencies are kept between syncs, by digest */
  cacheDir: string;
  /** OCI registries the dependencies are fetched from over plain HTTP */
  plainHttpHosts: readonly string[];
}

interface Dependency {
  name: string;
  repository?: string;
}

/** Chart.yaml's dependencies; an unreadable Chart.yaml is left for `helm template` to refuse. */
function declaredDependencies(chartYaml: TreeFile | undefined): Dependency[] {
  if (!chartYaml) return [];
  try {
    const doc = parseYaml(new TextDecoder().decode(chartYaml.data as Uint8Array)) as {
      dependencies?: unknown;
    };
    if (!Array.isArray(doc?.dependencies)) return [];
    return doc.dependencies.filter(
      (d): d is Dependency => typeof d === 'object' && d !== null && typeof d.name === 'string',
    );
  } catch {
    return [];
  }
}

/** A folder a file:// dependency names, inside the tree; undefined when it points elsewhere. */
function localFolder(dir: string, repository: string): string | undefined {
  const joined = posix.normalize(posix.join(dir, repository.slice('file://'.length)));
  return joined.startsWith('..') || joined.startsWith('/') ? undefined : joined.replace(/\/$/, '');
}

/**
 * The dependency archives Helm fetched for the chart at `build.dir`, as files of the chart
 * (`charts/NAME-VERSION.tgz`); none when every declared dependency is in charts/ already. Throws
 * OutpostError bundle_invalid at the chart's Chart.yaml with Helm's message when one cannot be had.
 * @example const added = await buildChartDependencies(helm, { root, tree, dir: 'pos/chart', cacheDir, plainHttpHosts: [] })
 */
export async function buildChartDependencies(
  helm: HelmTool,
  build: ChartDependencyBuild,
): Promise<TreeFile[]> {
  const prefix = build.dir ? `${build.dir}/` : '';
  const chartYaml = `${prefix}Chart.yaml`;
  const dependencies = declaredDependencies(build.tree.find((f) => f.path === chartYaml));
  const vendored = (name: string) =>
    build.tree.some(
      (f) => f.path.startsWith(`${prefix}charts/${name}/`) || f.path.startsWith(`${prefix}charts/${name}-`),
    );
  const missing = dependencies.filter((d) => !vendored(d.name));
  if (missing.length === 0) return [];

  // what the build reads: the chart's own files and the folders its file:// dependencies name
  const read = new Set([prefix]);
  for (const d of missing) {
    const local = d.repository?.startsWith('file://') ? localFolder(build.dir, d.repository) : undefined;
    if (local !== undefined) read.add(local ? `${local}/` : '');
  }
  const inputs = build.tree.filter((f) => [...read].some((p) => f.path.startsWith(p)));
  const key = treeDigest(inputs).slice('sha256:'.length);
  const cached = join(build.cacheDir, `${key}.json`);
  if (existsSync(cached)) return fromCache(await readFile(cached, 'utf8'));

  const fetched = await fetchDependencies(helm, build, chartYaml);
  await mkdir(build.cacheDir, { recursive: true });
  const partial = `${cached}.${process.pid}.partial`;
  await writeFile(
    partial,
    JSON.stringify(fetched.map((f) => ({ path: f.path, data: Buffer.from(f.data).toString('base64') }))),
  );
  await rename(partial, cached);
  return fetched;
}

function fromCache(text: string): TreeFile[] {
  return (JSON.parse(text) as Array<{ path: string; data: string }>).map((f) => ({
    path: f.path,
    data: Buffer.from(f.data, 'base64'),
  }));
}

async function fetchDependencies(
  helm: HelmTool,
  build: ChartDependencyBuild,
  chartYaml: string,
): Promise<TreeFile[]> {
  const scratch = await mkdtemp(join(tmpdir(), 'outpost-chart-deps-'));
  const home = await helmHome();
  try {
    const copy = join(scratch, 'tree');
    await cp(build.root, copy, { recursive: true });
    const chartDir = join(copy, build.dir);
    const args = ['dependency', 'build', chartDir];
    const ociHosts = declaredDependencies(build.tree.find((f) => f.path === chartYaml))
      .filter((d) => d.repository?.startsWith('oci://'))
      .map((d) => d.repository!.slice('oci://'.length).split('/')[0]!);
    // helm takes plain HTTP for all of a chart's registries or none
    if (ociHosts.length > 0 && ociHosts.every((h) => build.plainHttpHosts.includes(h))) {
      args.push('--plain-http');
    }
    const r = await runProgram({
      file: helm.bin,
      args,
      env: home.env,
      timeoutMs: helm.timeoutMs,
      maxOutputBytes: 1 << 20,
    });
    if (r.startError) throw new OutpostError('unavailable', notRunnable(helm, r.startError, ''));
    if (r.code !== 0) {
      const said = helmSaid(r.stderr.replaceAll(`${copy}/`, '').replaceAll(copy, '.'));
      throw new OutpostError('bundle_invalid', `helm dependency build: ${said}`, {
        file: chartYaml,
      });
    }
    const charts = join(chartDir, 'charts');
    const archives = existsSync(charts) ? (await readdir(charts)).filter((f) => f.endsWith('.tgz')) : [];
    const prefix = build.dir ? `${build.dir}/` : '';
    const had = new Set(build.tree.map((f) => f.path));
    const fetched: TreeFile[] = [];
    for (const name of archives.sort()) {
      const path = `${prefix}charts/${name}`;
      if (!had.has(path)) fetched.push({ path, data: await readFile(join(charts, name)) });
    }
    return fetched;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(home.dir, { recursive: true, force: true });
  }
}
