// A source of fleet definitions as sync and plan see it, whatever its kind: a git repository (a path on
// the hub, HTTP(S) or SSH) or a repository in an OCI registry. Either names a revision (a commit, or a
// manifest digest) and reads every file under the source's folder at that revision.

import { OutpostError } from '../../model/errors.ts';
import { sourcesDirOf } from '../config.ts';
import type { HubContext } from '../context.ts';
import type { TreeFile } from '../generators/tree.ts';
import type { SourceTable } from '../store/schema.ts';
import { type GitAuth, openGitSource, type TreeLimits } from './git.ts';
import { type OciAuth, openOciSource } from './oci.ts';
import { cosignPublicKey, verifyCosignSignatures } from './signatures.ts';

export interface FleetSource {
  /** what a revision is called: a git commit or an OCI manifest digest */
  kind: 'git' | 'oci';
  /** brings the source up to date and returns the revision it points at */
  fetch(): Promise<string>;
  /** every file under the source's folder at a revision (paths as the repository or artifact has them) */
  readTree(revision: string): Promise<TreeFile[]>;
}

export function isOciUrl(url: string): boolean {
  return url.startsWith('oci://');
}

/** The files under `path` ('' for all) of a tree whose paths start at its root. */
function under(files: readonly TreeFile[], path: string): TreeFile[] {
  if (path === '') return [...files];
  return files.filter((f) => f.path.startsWith(`${path}/`));
}

export function fleetSourceOf(ctx: HubContext, row: SourceTable): FleetSource {
  const limits: TreeLimits = ctx.config.sourceLimits;
  if (isOciUrl(row.url)) {
    const oci = openOciSource({
      url: row.url,
      ref: row.semver ? { semver: row.semver } : { tag: row.ref },
      auth: JSON.parse(row.auth) as OciAuth,
      insecure: Number(row.insecure) === 1,
      limits,
    });
    const key = row.verify_key ? cosignPublicKey(row.verify_key) : undefined;
    return {
      kind: 'oci',
      // Checked at fetch, not recorded as a rejected revision: cosign signs after the push, so a digest
      // unsigned at one poll may be signed at the next, and a failed fetch is tried again.
      async fetch() {
        const { digest } = await oci.resolve();
        if (key) verifyCosignSignatures(await oci.signatures(digest), key, digest, oci.repository);
        return digest;
      },
      async readTree(digest) {
        const files = under(await oci.files(digest), row.path);
        if (row.path !== '' && files.length === 0) {
          throw new OutpostError('bundle_invalid', `path ${row.path} does not exist in ${row.url}@${digest}`);
        }
        return files.map((f) => ({ path: f.path, data: f.data, executable: f.executable }));
      },
    };
  }
  const git = openGitSource({
    name: row.name,
    url: row.url,
    ref: row.ref,
    path: row.path,
    auth: JSON.parse(row.auth) as GitAuth,
    cacheDir: sourcesDirOf(ctx.config),
  });
  return { kind: 'git', fetch: () => git.fetch(), readTree: (commit) => git.readTree(commit, limits) };
}

/** The YAML files of a tree as text, for reading fleet definitions. */
export function yamlFiles(tree: readonly TreeFile[]): Array<{ path: string; content: string }> {
  const decoder = new TextDecoder();
  return tree
    .filter((f) => /\.ya?ml$/i.test(f.path))
    .map((f) => ({ path: f.path, content: typeof f.data === 'string' ? f.data : decoder.decode(f.data) }));
}
