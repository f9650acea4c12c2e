// Kustomize folders rendered by the real standalone kustomize (`kustomize build`), at the hub and
// never inside a transaction. Remote bases (git or HTTP URLs) are refused with the file and line that
// names them unless the hub's configuration allows them; then kustomize also runs without git on its
// PATH and with proxies that lead nowhere, so nothing missed here can reach the network either.
// Bases may sit anywhere in the source tree, never outside it.

import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { OutpostError } from '../../model/errors.ts';
import type { GeneratedFile } from './helm.ts';
import { runProgram, toolMessage } from './program.ts';

export interface KustomizeTool {
  /** the standalone kustomize executable (v5) */
  bin: string;
  timeoutMs: number;
  maxOutputBytes: number;
  /** hub configuration: let kustomizations name git or HTTP bases (fetched by kustomize itself) */
  allowRemoteBases: boolean;
}

export interface KustomizeBuild {
  /** the source tree on the hub's disk */
  root: string;
  /** the kustomization's folder inside the tree, '/'-separated ('' for the root) */
  dir: string;
  /** how the operator names the tree's root in messages (the repository path prefix), often '' */
  prefix?: string;
}

export const kustomizationNames = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
/** fields whose entries kustomize loads as files, folders or URLs */
const loadedFields = ['resources', 'bases', 'components', 'generators', 'transformers', 'validators'];
const remote = /^([a-z][a-z0-9+.-]*:\/\/|git@|git::|(github|gitlab|bitbucket)\.(com|org)\/)/i;

function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** The kustomization file of a folder of the tree ('/'-separated, relative), if it has one. */
async function kustomizationIn(root: string, dir: string): Promise<string | undefined> {
  const names = await readdir(join(root, dir)).catch(() => [] as string[]);
  const file = kustomizationNames.find((n) => names.includes(n));
  return file === undefined ? undefined : joinPath(dir, file);
}

/**
 * Refuses what kustomize would fetch or read from outside the tree, before running it: remote bases
 * (unless allowed) and local paths that climb out of the tree, in the kustomization of `dir` and every
 * local base it reaches. Errors name the file and line.
 */
export async function checkKustomizations(
  root: string,
  dir: string,
  opts: { allowRemoteBases: boolean; prefix?: string },
): Promise<OutpostError[]> {
  const errors: OutpostError[] = [];
  const shown = (rel: string) => joinPath(opts.prefix ?? '', rel);
  const visited = new Set<string>();
  const visit = async (folder: string): Promise<void> => {
    const rel = await kustomizationIn(root, folder);
    if (rel === undefined || visited.has(rel)) return;
    visited.add(rel);
    const text = await readFile(join(root, rel), 'utf8');
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, version: '1.1' });
    const fail = (message: string, path: Array<string | number>) => {
      const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      const line = node?.range ? lineCounter.linePos(node.range[0]).line : 1;
      errors.push(new OutpostError('bundle_invalid', message, { file: shown(rel), line }));
    };
    if (doc.errors[0]) {
      errors.push(
        new OutpostError('bundle_invalid', `invalid YAML: ${doc.errors[0].message.split('\n')[0]}`, {
          file: shown(rel),
          line: lineCounter.linePos(doc.errors[0].pos[0]).line,
        }),
      );
      return;
    }
    const value = doc.toJS() as Record<string, unknown> | null;
    for (const field of loadedFields) {
      const entries = value?.[field];
      if (!Array.isArray(entries)) continue;
      for (const [i, entry] of entries.entries()) {
        if (typeof entry !== 'string') continue;
        if (remote.test(entry)) {
          if (!opts.allowRemoteBases) {
            fail(
              `${field}[${i}] ${entry} is a remote base; the hub does not fetch remote bases (hub --kustomize-remote-bases allows them)`,
              [field, i],
            );
          }
          continue;
        }
        const target = resolve(root, folder, entry);
        const inTree = relative(resolve(root), target);
        if (inTree.startsWith('..') || isAbsolute(inTree)) {
          fail(`${field}[${i}] ${entry} is outside the repository`, [field, i]);
          continue;
        }
        await visit(inTree.split(sep).join('/'));
      }
    }
  };
  await visit(dir);
  return errors;
}

/**
 * Builds a kustomization as `kustomize build` does and returns its output as one file, named for
 * the kustomization. Throws OutpostError bundle_invalid with file and line (when kustomize names one).
 * @example await buildKustomization(kustomize, { root: tree, dir: 'fleet/monitoring/overlays/west' })
 */
export async function buildKustomization(tool: KustomizeTool, build: KustomizeBuild): Promise<GeneratedFile> {
  const prefix = build.prefix ?? '';
  const shown = joinPath(prefix, build.dir);
  const kustomization = await kustomizationIn(build.root, build.dir);
  if (kustomization === undefined) {
    throw new OutpostError('bundle_invalid', `no kustomization.yaml in ${shown || '/'}`, {
      file: shown || '/',
    });
  }
  const problems = await checkKustomizations(build.root, build.dir, {
    allowRemoteBases: tool.allowRemoteBases,
    prefix,
  });
  if (problems.length > 0) throw problems[0]!;
  const env: NodeJS.ProcessEnv = tool.allowRemoteBases
    ? { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C' }
    : {
        // no git to clone with, and HTTP(S) through a proxy that is not there
        PATH: '',
        HOME: '/nonexistent',
        HTTP_PROXY: 'http://127.0.0.1:9',
        HTTPS_PROXY: 'http://127.0.0.1:9',
        NO_PROXY: '',
        LANG: 'C',
      };
  const r = await runProgram({
    file: tool.bin,
    args: ['build', join(build.root, build.dir), '--load-restrictor', 'LoadRestrictionsRootOnly'],
    env,
    timeoutMs: tool.timeoutMs,
    maxOutputBytes: tool.maxOutputBytes,
  });
  const where = { file: joinPath(prefix, kustomization) };
  if (r.startError) {
    throw new OutpostError(
      'unavailable',
      `kustomize could not be started (${tool.bin}: ${r.startError.code}); install kustomize v5 or give hub --kustomize PATH`,
    );
  }
  if (r.timedOut)
    throw new OutpostError('bundle_invalid', `kustomize build took over ${tool.timeoutMs / 1000} s`, where);
  if (r.outputExceeded) {
    throw new OutpostError(
      'bundle_invalid',
      `the kustomization builds to more than ${tool.maxOutputBytes} bytes (hub --max-bundle-bytes)`,
      where,
    );
  }
  if (r.code !== 0) {
    // kustomize names files by their absolute path on the hub; name them as the repository does
    const said = toolMessage(
      r.stderr.replaceAll(`${resolve(build.root)}/`, prefix ? `${prefix}/` : ''),
      4,
    ).replace(/^Error: /, '');
    throw new OutpostError(
      'bundle_invalid',
      `kustomize build: ${said}`,
      kustomizeErrorLocation(said, where.file),
    );
  }
  return { path: where.file, content: r.stdout.toString('utf8') };
}

/**
 * The file (and line, for YAML errors) kustomize's message is about, else the kustomization. Kustomize
 * names a resource as the kustomization wrote it, relative to the kustomization's folder.
 */
function kustomizeErrorLocation(message: string, kustomization: string): { file: string; line?: number } {
  const line = /\byaml: line (\d+)/.exec(message)?.[1];
  const named =
    /in File: (\S+)/.exec(message)?.[1] ?? [...message.matchAll(/resources from '([^']+)'/g)].pop()?.[1];
  if (line === undefined || named === undefined) return { file: kustomization };
  const dir = kustomization.slice(0, kustomization.lastIndexOf('/') + 1);
  return { file: named.startsWith(dir) ? named : `${dir}${named}`, line: Number(line) };
}
