// Real git repositories for tests: made and committed to with Debian's `git`, and served over smart
// HTTP by `git http-backend` behind a small node:http CGI shim on loopback, optionally behind basic auth.

import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const backend = '/usr/lib/git-core/git-http-backend';

export interface GitRepo {
  dir: string;
  /** writes (or with null, deletes) files relative to the work tree, commits them, returns the SHA */
  commit(message: string, files: Record<string, string | null>): Promise<string>;
  git(...args: string[]): string;
}

const gitEnv = {
  GIT_AUTHOR_NAME: 'Outpost Test',
  GIT_AUTHOR_EMAIL: 'test@outpost.invalid',
  GIT_COMMITTER_NAME: 'Outpost Test',
  GIT_COMMITTER_EMAIL: 'test@outpost.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
};

export async function createRepo(parent: string, name: string): Promise<GitRepo> {
  const dir = join(parent, name);
  await mkdir(dir, { recursive: true });
  const run = (...args: string[]) =>
    execFileSync('git', args, { cwd: dir, env: { ...process.env, ...gitEnv }, encoding: 'utf8' }).trim();
  run('init', '-q', '-b', 'main');
  // let http-backend serve this non-bare repository's objects
  run('config', 'http.receivepack', 'false');
  return {
    dir,
    git: run,
    async commit(message, files) {
      for (const [path, content] of Object.entries(files)) {
        const full = join(dir, path);
        if (content === null) {
          run('rm', '-q', '-r', '--', path);
          continue;
        }
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
        run('add', '--', path);
      }
      run('commit', '-q', '--allow-empty', '-m', message);
      return run('rev-parse', 'HEAD');
    },
  };
}

export interface GitServer {
  /** the clone URL of a repository under the served root */
  url(repo: string): string;
  /** requests served, for tests that check a fetch happened */
  requests: number;
  close(): Promise<void>;
}

/** Serves every repository under `root`; with `auth`, refuses requests without those basic credentials. */
export async function startGitServer(
  root: string,
  auth?: { username: string; password: string },
): Promise<GitServer> {
  const expected = auth
    ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
    : undefined;
  const state = { requests: 0 };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    state.requests += 1;
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const child = spawn(backend, [], {
      env: {
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['content-encoding']
          ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }
          : {}),
        ...(auth ? { REMOTE_USER: auth.username } : {}),
      },
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        const [k, v] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    child.stdout.on('end', () => res.end());
    child.on('error', () => res.destroy());
  };
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (repo) => `http://127.0.0.1:${port}/${repo}`,
    get requests() {
      return state.requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
