// Git sources: fetch a branch or tag, name the commit it points at, and read the files under a sub-path
// straight from git objects (no checkout). HTTP(S) remotes are fetched by isomorphic-git and SSH remotes
// by the real git and ssh (git-ssh.ts), both into a bare cache repository; a local path is read in place.
// Credentials come from environment variables or files named in the source's config, and never appear
// in messages.

import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { OutpostError } from '../../model/errors.ts';
import type { TreeFile } from '../generators/tree.ts';
import { fetchOverSsh, isSshUrl, type SshAuth } from './git-ssh.ts';

export interface TreeLimits {
  maxFiles: number;
  /** total bytes of the files read */
  maxBytes: number;
}

export interface GitSource {
  /** brings the ref up to date and returns the commit it points at */
  fetch(): Promise<string>;
  /**
   * Every file under the source's path at a commit (dot-files and dot-folders left out), with paths
   * relative to the repository root so errors point at the file in the repository.
   */
  readTree(commit: string, limits: TreeLimits): Promise<TreeFile[]>;
}

export interface GitAuth extends Partial<SshAuth> {
  /** basic auth: the user name (not secret) and the variable holding the password or token */
  username?: string;
  passwordEnv?: string;
  /** bearer auth: the variable holding the token */
  tokenEnv?: string;
}

export interface GitSourceSpec {
  name: string;
  /** https://…, http://…, ssh://…, USER@HOST:PATH, file://… or a local path */
  url: string;
  /** branch or tag */
  ref: string;
  /** folder inside the repository ('' for the root) */
  path: string;
  auth: GitAuth;
  /** where remote repositories are cached */
  cacheDir: string;
  env?: NodeJS.ProcessEnv;
}

const cache = {};

function isHttp(url: string): boolean {
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
  const ssh = isSshUrl(spec.url);
  const remote = ssh || isHttp(spec.url);
  const gitdir = remote ? join(spec.cacheDir, `${spec.name}.git`) : localGitdir(spec.url);
  const subpath = spec.path.replace(/^\/+|\/+$/g, '');

  async function commitOf(oid: string): Promise<string> {
    // annotated tags point at a tag object; readCommit peels them to the commit
    return (await git.readCommit({ fs, gitdir, oid, cache })).oid;
  }

  return {
    async fetch() {
      if (ssh) {
        const commit = await fetchOverSsh({
          url: spec.url,
          ref: spec.ref,
          auth: { ...spec.auth, knownHosts: spec.auth.knownHosts ?? '' },
          gitdir,
          env,
        });
        // annotated tags were peeled by git already; this also checks isomorphic-git can read the pack
        return commitOf(commit);
      }
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

    async readTree(commit, limits) {
      let root: string;
      try {
        root = (await git.readTree({ fs, gitdir, oid: commit, filepath: subpath || undefined, cache })).oid;
      } catch {
        throw new OutpostError('bundle_invalid', `path ${subpath || '/'} does not exist at commit ${commit}`);
      }
      const out: TreeFile[] = [];
      let bytes = 0;
      const walk = async (oid: string, prefix: string): Promise<void> => {
        const { tree } = await git.readTree({ fs, gitdir, oid, cache });
        for (const entry of tree) {
          const path = prefix ? `${prefix}/${entry.path}` : entry.path;
          if (entry.path.startsWith('.')) continue;
          if (entry.type === 'tree') await walk(entry.oid, path);
          // links and submodules are not followed: a fleet folder is plain files
          else if (entry.type === 'blob' && entry.mode !== '120000') {
            const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
            bytes += blob.length;
            if (out.length >= limits.maxFiles || bytes > limits.maxBytes) {
              throw new OutpostError(
                'bundle_invalid',
                `${subpath || 'the repository'} holds more than ${limits.maxFiles} files or ${limits.maxBytes} bytes at commit ${commit}`,
              );
            }
            out.push({ path, data: blob, executable: entry.mode === '100755' });
          }
        }
      };
      await walk(root, subpath);
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
  };
}
