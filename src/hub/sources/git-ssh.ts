// Git over SSH with a deploy key, through the real `git` and `ssh` clients (isomorphic-git speaks only
// HTTP): the ref is fetched shallowly into the source's bare cache repository, which the git source
// then reads like any other. The server's host key must be pinned (known_hosts lines in the source's
// config), the key comes from a file on the hub or a named environment variable, and neither the
// hub's nor the user's ssh or git configuration is consulted.

import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OutpostError } from '../../model/errors.ts';
import { runProgram, toolMessage } from '../generators/program.ts';

export interface SshAuth {
  /** a private key file on the hub */
  privateKeyFile?: string;
  /** or the variable in the hub's environment holding the private key's text */
  privateKeyEnv?: string;
  /** known_hosts lines that pin the server's host key; required */
  knownHosts: string;
}

export interface GitSshFetch {
  /** ssh://[USER@]HOST[:PORT]/PATH or USER@HOST:PATH */
  url: string;
  /** branch or tag */
  ref: string;
  auth: SshAuth;
  /** the bare repository the ref is fetched into (made when missing) */
  gitdir: string;
  /** the `git` executable; `git` on PATH by default */
  git?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Where the fetched ref is kept in the cache repository. */
export const fetchedRef = 'refs/outpost/fetched';

const sshUrl = /^ssh:\/\/(?:[^@/\s]+@)?([^/:\s]+|\[[0-9a-fA-F:]+\])(?::(\d+))?\/\S+$/;
const scpUrl = /^[^@/\s:]+@([^/:\s]+):(?!\/\/)\S+$/;
const knownHostsLine =
  /^(@cert-authority\s+|@revoked\s+)?\S+\s+(ssh-|ecdsa-|sk-)\S+\s+[A-Za-z0-9+/=]+(\s.*)?$/;

export function isSshUrl(url: string): boolean {
  return sshUrl.test(url) || scpUrl.test(url);
}

/** The host (and port) an SSH URL names, for messages. */
export function sshHostOf(url: string): string {
  const m = sshUrl.exec(url);
  if (m) return m[2] ? `${m[1]}:${m[2]}` : m[1]!;
  return scpUrl.exec(url)?.[1] ?? url;
}

/** Checks what `source add` is given for an SSH source; returns the problems, empty when fine. */
export function sshAuthProblems(url: string, auth: Partial<SshAuth>): string[] {
  const problems: string[] = [];
  if (!isSshUrl(url) || url.startsWith('-')) {
    problems.push(`${url}: an SSH source is ssh://[USER@]HOST[:PORT]/PATH or USER@HOST:PATH`);
  }
  if (!auth.privateKeyFile === !auth.privateKeyEnv) {
    problems.push(
      'give the deploy key as privateKeyFile (a path on the hub) or privateKeyEnv (a variable name), one of them',
    );
  }
  const lines = (auth.knownHosts ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) {
    problems.push(
      'knownHosts is required: the server host key line(s), as `ssh-keyscan HOST` prints them and you have checked',
    );
  }
  for (const l of lines)
    if (!knownHostsLine.test(l)) problems.push(`knownHosts: not a known_hosts line: ${l.slice(0, 60)}`);
  return problems;
}

/** Single-quotes a word for the shell that runs GIT_SSH_COMMAND. */
function quote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

const gitTrailer =
  /^fatal: Could not read from remote repository\.|^Please make sure you have the correct access rights|^and the repository exists\./;

/** Turns ssh's and git's words into a message that says what to fix, keeping theirs at the end. */
function explain(stderr: string, url: string, ref: string): string {
  const host = sshHostOf(url);
  // ssh's own line says more than git's trailer about access rights, and the warning banner says less
  const specific = stderr
    .split('\n')
    .filter((l) => !gitTrailer.test(l) && !/^@+$|^@ /.test(l.trim()))
    .join('\n');
  const said = toolMessage(specific || stderr, 2);
  const because = (what: string) => `${what} (${said})`;
  if (
    /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key .* is not known/i.test(
      stderr,
    )
  ) {
    return because(
      `the host key of ${host} does not match the pinned knownHosts; check the server's key and fix knownHosts`,
    );
  }
  if (/Permission denied \(/.test(stderr)) return because(`${host} refused the deploy key`);
  if (/Load key .*(invalid format|error in libcrypto)|invalid format/i.test(stderr)) {
    return because('the deploy key is not a private key ssh can read');
  }
  if (
    /Connection refused|Could not resolve hostname|timed out|No route to host|Network is unreachable/i.test(
      stderr,
    )
  ) {
    return because(`${host} is unreachable`);
  }
  if (/couldn't find remote ref/i.test(stderr)) return because(`the repository has no branch or tag ${ref}`);
  if (/does not appear to be a git repository|not a git repository|No such file or directory/i.test(stderr)) {
    return because(`no git repository at ${url}`);
  }
  return because(`fetching ${ref} from ${url} failed`);
}

/**
 * Fetches `ref` over SSH into `gitdir` and returns the commit it points at.
 * @example await fetchOverSsh({ url: 'git@git.example.com:fleet.git', ref: 'main', auth, gitdir })
 */
export async function fetchOverSsh(spec: GitSshFetch): Promise<string> {
  const problems = sshAuthProblems(spec.url, spec.auth);
  if (problems.length > 0) throw new OutpostError('request_invalid', problems.join('; '));
  const env = spec.env ?? process.env;
  let key: string;
  if (spec.auth.privateKeyEnv) {
    const value = env[spec.auth.privateKeyEnv];
    if (!value) {
      throw new OutpostError(
        'source_failed',
        `the deploy key variable ${spec.auth.privateKeyEnv} is not set in the hub's environment`,
      );
    }
    key = value;
  } else {
    try {
      key = await readFile(spec.auth.privateKeyFile!, 'utf8');
    } catch (e) {
      throw new OutpostError(
        'source_failed',
        `the deploy key file ${spec.auth.privateKeyFile} cannot be read: ${(e as NodeJS.ErrnoException).code}`,
      );
    }
  }
  // ssh wants a key file only its owner can read, ending in a newline (an env variable may have lost it)
  await mkdir(spec.gitdir, { recursive: true });
  const scratch = await mkdtemp(join(spec.gitdir, '..', '.ssh-'));
  try {
    const keyFile = join(scratch, 'key');
    const knownHostsFile = join(scratch, 'known_hosts');
    await writeFile(keyFile, `${key.replace(/\r\n/g, '\n').trimEnd()}\n`, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    await writeFile(knownHostsFile, `${spec.auth.knownHosts.trim()}\n`);
    const timeoutMs = spec.timeoutMs ?? 120_000;
    const ssh = [
      'ssh -F /dev/null',
      `-o IdentityFile=${quote(keyFile)}`,
      '-o IdentitiesOnly=yes -o IdentityAgent=none',
      `-o UserKnownHostsFile=${quote(knownHostsFile)}`,
      '-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o UpdateHostKeys=no',
      '-o BatchMode=yes -o PasswordAuthentication=no',
      `-o ConnectTimeout=${Math.max(1, Math.round(timeoutMs / 4000))}`,
    ].join(' ');
    const childEnv: NodeJS.ProcessEnv = {
      PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: scratch,
      LANG: 'C',
      GIT_SSH_COMMAND: ssh,
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
    };
    const git = (args: string[]) =>
      runProgram({
        file: spec.git ?? 'git',
        args: [`--git-dir=${spec.gitdir}`, ...args],
        env: childEnv,
        timeoutMs,
        maxOutputBytes: 1024 * 1024,
      });
    const init = await git(['init', '--quiet', '--bare']);
    if (init.code !== 0) {
      throw new OutpostError(
        'source_failed',
        init.startError
          ? `git could not be started (${init.startError.code}); the hub needs git for SSH sources`
          : `git init failed: ${toolMessage(init.stderr)}`,
      );
    }
    const fetched = await git([
      'fetch',
      '--quiet',
      '--no-tags',
      '--depth=1',
      '--',
      spec.url,
      `+${spec.ref}:${fetchedRef}`,
    ]);
    if (fetched.timedOut) {
      throw new OutpostError(
        'source_failed',
        `fetching ${spec.ref} from ${spec.url} took over ${timeoutMs / 1000} s`,
      );
    }
    if (fetched.code !== 0) {
      throw new OutpostError('source_failed', explain(fetched.stderr, spec.url, spec.ref));
    }
    const commit = await git(['rev-parse', '--verify', '--quiet', `${fetchedRef}^{commit}`]);
    if (commit.code !== 0)
      throw new OutpostError('source_failed', `${spec.ref} of ${spec.url} is not a commit`);
    return commit.stdout.toString().trim();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
