// Helm charts rendered by the real Helm (`helm template`), at the hub and never inside a transaction:
// one run per distinct set of inputs (the chart, the values after per-site substitution, the site's
// Kubernetes version). The output comes back as one manifest file per chart template, named by its
// path in the source, and a failure comes back as the chart file and line with Helm's own message.
// Charts from a registry or chart repository are pulled once per version and pinned by digest.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { OutpostError } from '../../model/errors.ts';
import { readTar, type TarFile } from '../sources/core/tar.ts';
import { runProgram, toolMessage } from './program.ts';
import { type TreeFile, treeDigest } from './tree.ts';

export interface HelmTool {
  /** the helm executable (v4; v3 works the same for templating) */
  bin: string;
  timeoutMs: number;
  /** rendered output over this many bytes refuses the chart */
  maxOutputBytes: number;
}

/** A file of generated manifests, named where its source is so errors point there. */
export interface GeneratedFile {
  path: string;
  content: string;
}

export interface ChartRender {
  /** the unpacked chart on the hub's disk */
  chartDir: string;
  /** the chart's folder as the operator knows it (in the repository, or oci://…:version) */
  chartPath: string;
  release: string;
  namespace: string;
  /** values files, then the values after per-site substitution: passed to helm as --values in order */
  values: Record<string, unknown>[];
  /** the site's Kubernetes version, for .Capabilities.KubeVersion (vMAJOR.MINOR.PATCH) */
  kubeVersion?: string;
}

/** Empty helm homes, so no repository list, registry login or plugin of the hub's user is used. */
export async function helmHome(): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-helm-'));
  return {
    dir,
    env: {
      HOME: dir,
      HELM_CACHE_HOME: join(dir, 'cache'),
      HELM_CONFIG_HOME: join(dir, 'config'),
      HELM_DATA_HOME: join(dir, 'data'),
      HELM_PLUGINS: join(dir, 'plugins'),
      KUBECONFIG: join(dir, 'kubeconfig'),
      LANG: 'C',
    },
  };
}

/** The version helm reports, such as v4.3.2; throws when the binary cannot be run. */
export async function helmVersion(helm: HelmTool): Promise<string> {
  const home = await helmHome();
  try {
    const r = await runProgram({
      file: helm.bin,
      args: ['version', '--template', '{{.Version}}'],
      env: home.env,
      timeoutMs: helm.timeoutMs,
      maxOutputBytes: 4096,
    });
    if (r.code !== 0) throw new OutpostError('unavailable', notRunnable(helm, r.startError, r.stderr));
    return r.stdout.toString().trim();
  } finally {
    await rm(home.dir, { recursive: true, force: true });
  }
}

export function notRunnable(
  helm: HelmTool,
  startError: NodeJS.ErrnoException | undefined,
  stderr: string,
): string {
  if (startError)
    return `helm could not be started (${helm.bin}: ${startError.code}); install Helm v4 or give hub --helm PATH`;
  return `helm failed: ${helmSaid(stderr)}`;
}

/**
 * Where helm's message points inside a chart, as the chart's path plus file and line.
 * Helm names template files by chart name (`pos/templates/x.yaml:12:4`); the chart name is the
 * first segment, which is replaced with the chart's path in the source.
 */
export function helmErrorLocation(message: string, chartPath: string): { file?: string; line?: number } {
  const inChart = (named: string) => `${chartPath}/${named.slice(named.indexOf('/') + 1)}`;
  // helm v4: "execution error at (pos/templates/x.yaml:2:19): …", "pos/templates/x.yaml:1:13 executing …";
  // helm v3 also: "template: pos/templates/x.yaml:12:4: …"; Go templates: "parse error at (…:3): …"
  const at = /(?:error at \(|template: |^)([^\s:()]+\/[^\s:()]+):(\d+)(?::\d+)?/m.exec(message) ?? undefined;
  if (at) return { file: inChart(at[1]!), line: Number(at[2]) };
  const yamlOn = /YAML parse error on ([^\s:]+):/.exec(message);
  if (yamlOn) return { file: inChart(yamlOn[1]!) };
  if (/Chart\.yaml|charts\/ directory|kubeVersion|dependenc/i.test(message))
    return { file: `${chartPath}/Chart.yaml` };
  if (/values\.yaml|values don't meet the specifications of the schema/i.test(message)) {
    return { file: `${chartPath}/values.yaml` };
  }
  return { file: chartPath };
}

/** Helm's error on one line, without its "Error:" prefix and its advice to use --debug. */
export function helmSaid(stderr: string): string {
  return toolMessage(stderr.replace(/^Use --debug flag.*$/m, ''), 4).replace(/^Error: /, '');
}

/** Splits helm's output stream into one file per `# Source:` template, in the order helm wrote them. */
export function splitHelmOutput(stdout: string, chartPath: string): GeneratedFile[] {
  const files = new Map<string, string[]>();
  let current = `${chartPath}/(rendered)`;
  for (const doc of stdout.split(/^---[ \t]*$/m)) {
    if (doc.trim() === '') continue;
    const source = /^# Source: (\S+)/m.exec(doc)?.[1];
    if (source) current = `${chartPath}/${source.slice(source.indexOf('/') + 1)}`;
    files.set(current, [...(files.get(current) ?? []), doc.replace(/^\n/, '')]);
  }
  return [...files].map(([path, docs]) => ({ path, content: docs.join('---\n') }));
}

/**
 * Renders a chart as `helm template` does, CRDs from `crds/` included, dependencies from `charts/`
 * (never fetched here: chart-dependencies.ts fetches them before). Throws OutpostError bundle_invalid naming the chart file and line with helm's message.
 * @example await renderChart(helm, { chartDir, chartPath: 'fleet/pos/chart', release: 'pos', namespace: 'pos', values: [{ lanes: 4 }], kubeVersion: 'v1.33.0' })
 */
export async function renderChart(helm: HelmTool, input: ChartRender): Promise<GeneratedFile[]> {
  const home = await helmHome();
  try {
    const valuesArgs: string[] = [];
    for (const [i, layer] of input.values.entries()) {
      const file = join(home.dir, `values-${i}.json`);
      await writeFile(file, JSON.stringify(layer));
      valuesArgs.push('--values', file);
    }
    const args = [
      'template',
      input.release,
      input.chartDir,
      '--namespace',
      input.namespace,
      ...valuesArgs,
      '--include-crds',
      '--skip-tests',
      ...(input.kubeVersion ? ['--kube-version', input.kubeVersion] : []),
    ];
    const r = await runProgram({
      file: helm.bin,
      args,
      env: home.env,
      timeoutMs: helm.timeoutMs,
      maxOutputBytes: helm.maxOutputBytes,
    });
    const where = { file: input.chartPath };
    if (r.startError) throw new OutpostError('unavailable', notRunnable(helm, r.startError, ''));
    if (r.timedOut) {
      throw new OutpostError('bundle_invalid', `helm template took over ${helm.timeoutMs / 1000} s`, where);
    }
    if (r.outputExceeded) {
      throw new OutpostError(
        'bundle_invalid',
        `the chart renders to more than ${helm.maxOutputBytes} bytes (hub --max-bundle-bytes)`,
        where,
      );
    }
    if (r.code !== 0) {
      const said = helmSaid(r.stderr.replaceAll(input.chartDir, input.chartPath));
      throw new OutpostError(
        'bundle_invalid',
        `helm template: ${said}`,
        helmErrorLocation(said, input.chartPath),
      );
    }
    return splitHelmOutput(r.stdout.toString('utf8'), input.chartPath);
  } finally {
    await rm(home.dir, { recursive: true, force: true });
  }
}

export interface ChartPull {
  /** oci://HOST/REPO/CHART, or a chart repository URL (https://…) with `chart` naming the chart in it */
  repository: string;
  chart?: string;
  version: string;
  username?: string;
  password?: string;
  /** plain HTTP to an OCI registry */
  plainHttp?: boolean;
}

export interface PulledChart {
  /** the chart's files, relative to the chart's folder */
  files: TreeFile[];
  /** the digest of those files (treeDigest), which pins this version's content */
  digest: string;
}

/**
 * Pulls one chart version from an OCI registry or a chart repository and unpacks it in memory.
 * @example await pullChart(helm, { repository: 'oci://registry.example.com/charts/pos', version: '1.4.3' })
 */
export async function pullChart(helm: HelmTool, pull: ChartPull): Promise<PulledChart> {
  const home = await helmHome();
  try {
    const oci = pull.repository.startsWith('oci://');
    const target = oci ? pull.repository : (pull.chart ?? '');
    const archives = join(home.dir, 'pulled');
    await mkdir(archives);
    const args = ['pull', target, '--version', pull.version, '--destination', archives];
    if (!oci) args.push('--repo', pull.repository);
    if (oci && pull.plainHttp) args.push('--plain-http');
    let input: string | undefined;
    if (pull.username !== undefined && pull.password !== undefined) {
      // the password goes through standard input, never the command line
      if (oci) {
        const host = pull.repository.slice('oci://'.length).split('/')[0]!;
        const login = await runProgram({
          file: helm.bin,
          args: [
            'registry',
            'login',
            host,
            '--username',
            pull.username,
            '--password-stdin',
            ...(pull.plainHttp ? ['--plain-http'] : []),
          ],
          env: home.env,
          input: pull.password,
          timeoutMs: helm.timeoutMs,
          maxOutputBytes: 64 * 1024,
        });
        if (login.code !== 0) {
          throw new OutpostError(
            'source_failed',
            `helm registry login to ${host}: ${helmSaid(login.stderr)}`,
          );
        }
      } else {
        args.push('--username', pull.username, '--password-stdin');
        input = pull.password;
      }
    }
    const r = await runProgram({
      file: helm.bin,
      args,
      env: home.env,
      ...(input !== undefined ? { input } : {}),
      timeoutMs: helm.timeoutMs,
      maxOutputBytes: 64 * 1024,
    });
    const what = oci
      ? `${pull.repository}:${pull.version}`
      : `${pull.chart} ${pull.version} from ${pull.repository}`;
    if (r.startError) throw new OutpostError('unavailable', notRunnable(helm, r.startError, ''));
    if (r.code !== 0) throw new OutpostError('source_failed', `helm pull ${what}: ${helmSaid(r.stderr)}`);
    const [archive] = (await readdir(archives)).filter((f) => f.endsWith('.tgz'));
    if (!archive) throw new OutpostError('source_failed', `helm pull ${what} wrote no chart archive`);
    const bytes = await readFile(join(archives, archive));
    let files: TarFile[];
    try {
      files = readTar(gunzipSync(bytes, { maxOutputLength: helm.maxOutputBytes }), {
        maxFiles: 10_000,
        maxBytes: helm.maxOutputBytes,
      });
    } catch (e) {
      throw new OutpostError('source_failed', `the chart archive of ${what}: ${(e as Error).message}`);
    }
    // a chart archive holds one folder named for the chart
    const name = files[0]?.path.split('/')[0];
    if (!name || files.some((f) => !f.path.startsWith(`${name}/`))) {
      throw new OutpostError('source_failed', `the chart archive of ${what} is not one chart folder`);
    }
    const chart = files.map((f) => ({ ...f, path: f.path.slice(name.length + 1) }));
    return { files: chart, digest: treeDigest(chart) };
  } finally {
    await rm(home.dir, { recursive: true, force: true });
  }
}
