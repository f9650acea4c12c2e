// Git sources: fetch a branch or tag, name the commit it points at, and read the YAML files under a
// sub-path straight from git objects (no checkout). HTTP(S) remotes are fetched into a bare cache
// repository; a local path is read in place. Credentials come from environment variables named in
// the source's config, and never appear in messages.

import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { OutpostError } from '../../model/errors.ts';

export interface RepoFile {
  /** relative to the repository root, so errors point at the file in the repository */
  path: string;
  content: string;
}

export interface GitSource {
  /** brings the ref up to date and returns the commit it points at */
  fetch(): Promise<string>;
  /** the .yaml/.yml files under the source's path at a commit */
  readFiles(commit: string): Promise<RepoFile[]>;
}

export interface GitAuth {
  /** basic auth: the user name (not secret) and the variable holding the password or token */
  username?: string;
  passwordEnv?: string;
  /** bearer auth: the variable holding the token */
  tokenEnv?: string;
}

export interface GitSourceSpec {
  name: string;
  /** https://…, http://…, file://… or a local path */
  url: string;
  /** branch or tag */
  ref: string;
  /** folder inside the repository ('' for the root) */
  path: string;
  auth: GitAuth;
  /** where HTTP(S) remotes are cached */
  cacheDir: string;
  env?: NodeJS.ProcessEnv;
}

const cache = {};

function isRemote(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/** Local path of a file:// URL or plain path, and the git dir inside it (bare or not). */
function localGitdir(url: string): string {
  const path = resolve(url.startsWith('file://') ? new URL(url).pathname : url);
  const dotGit = join(path, '.git');
  return existsSync(dotGit) ? dotGit : path;
}

function secret(env: NodeJS.ProcessEnv, name: string | undefined, what: string): string | undefined {
  if (!name) return undefined;
  const value = env[name];
  if (value === undefined || value === '') {
    throw new OutpostError(
      'source_failed',
      `the ${what} variable ${name} is not set in the hub's environment`,
    );
  }
  return value;
}

/** Strips anything that could carry a secret from a library error before it is stored or shown. */
function clean(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = message;
  for (const s of secrets) if (s) out = out.replaceAll(s, '[redacted]');
  return out.replace(/\/\/[^/@\s]+@/g, '//');
}

export function openGitSource(spec: GitSourceSpec): GitSource {
  const env = spec.env ?? process.env;
  const remote = isRemote(spec.url);
  const gitdir = remote ? join(spec.cacheDir, `${spec.name}.git`) : localGitdir(spec.url);
  const subpath = spec.path.replace(/^\/+|\/+$/g, '');

  async function commitOf(oid: string): Promise<string> {
    // annotated tags point at a tag object; readCommit peels them to the commit
    return (await git.readCommit({ fs, gitdir, oid, cache })).oid;
  }

  return {
    async fetch() {
      if (!remote) {
        if (!existsSync(gitdir)) throw new OutpostError('source_failed', `no git repository at ${spec.url}`);
        try {
          return await commitOf(await git.resolveRef({ fs, gitdir, ref: spec.ref }));
        } catch (e) {
          throw new OutpostError(
            'source_failed',
            `ref ${spec.ref} not found in ${spec.url}: ${(e as Error).message}`,
          );
        }
      }
      const password = secret(env, spec.auth.passwordEnv, 'password');
      const token = secret(env, spec.auth.tokenEnv, 'token');
      await mkdir(gitdir, { recursive: true });
      if (!existsSync(join(gitdir, 'HEAD'))) await git.init({ fs, gitdir, bare: true });
      await git.addRemote({ fs, gitdir, remote: 'origin', url: spec.url, force: true });
      let refused = false;
      try {
        const result = await git.fetch({
          fs,
          http,
          gitdir,
          remote: 'origin',
          ref: spec.ref,
          singleBranch: true,
          depth: 1,
          tags: false,
          cache,
          ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
          ...(password !== undefined
            ? { onAuth: () => ({ username: spec.auth.username ?? 'git', password }) }
            : {}),
          // wrong credentials: fail instead of being asked again
          onAuthFailure: () => {
            refused = true;
            return { cancel: true };
          },
        });
        if (!result.fetchHead) throw new Error(`the remote has no ${spec.ref}`);
        return await commitOf(result.fetchHead);
      } catch (e) {
        const message = refused
          ? 'the remote refused the credentials (HTTP 401)'
          : clean((e as Error).message, [password, token]);
        throw new OutpostError(
          'source_failed',
          `fetching ${spec.ref} from ${clean(spec.url, [])} failed: ${message}`,
        );
      }
    },

    async readFiles(commit) {
      let root: string;
      try {
        root = (await git.readTree({ fs, gitdir, oid: commit, filepath: subpath || undefined, cache })).oid;
      } catch {
        throw new OutpostError('bundle_invalid', `path ${subpath || '/'} does not exist at commit ${commit}`);
      }
      const out: RepoFile[] = [];
      const walk = async (oid: string, prefix: string): Promise<void> => {
        const { tree } = await git.readTree({ fs, gitdir, oid, cache });
        for (const entry of tree) {
          const path = prefix ? `${prefix}/${entry.path}` : entry.path;
          if (entry.path.startsWith('.')) continue;
          if (entry.type === 'tree') await walk(entry.oid, path);
          else if (entry.type === 'blob' && /\.ya?ml$/i.test(entry.path)) {
            const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
            out.push({ path, content: new TextDecoder().decode(blob) });
          }
        }
      };
      await walk(root, subpath);
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
  };
}
