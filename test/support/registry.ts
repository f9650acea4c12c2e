// A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution registry) on
// 127.0.0.1 with its storage and config in a temporary folder, optionally behind htpasswd basic auth,
// and fleet artifacts pushed to it by the real `oras` as `flux push artifact` writes them.
// Found via REGISTRY_BIN (scripts/debian-tool-fixture.sh docker-registry).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fluxConfigMediaType, fluxContentMediaType } from '../../src/hub/sources/oci.ts';
import { runTool } from './tools.ts';

export interface Registry {
  /** host:port, for oci:// URLs and `oras` / `helm` references */
  host: string;
  /** the registry's storage folder (blobs under docker/registry/v2/blobs), for tests that damage one */
  storage: string;
  close(): Promise<void>;
}

/** The user and password of a registry started with `auth: true`. */
export const registryUser = { username: 'fleet-reader', password: 'fleet-reader-pass' };
// bcrypt of registryUser.password (cost 5), as `htpasswd -B` writes it; the registry checks it for real
const registryUserHash = '$2b$05$P6ilCgA1/BcfO4AR4xQaRuD9F.t3pbosemDxoTvGvWGZ/lPZdMzFm';

export function registryBin(): string | undefined {
  const bin = process.env.REGISTRY_BIN ?? '/usr/bin/docker-registry';
  return existsSync(bin) ? bin : undefined;
}

/** A port free right now on 127.0.0.1 (the registry cannot report one it picked itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`docker-registry did not answer at ${url}: ${log()}`);
}

export async function startRegistry(opts: { auth?: boolean } = {}): Promise<Registry> {
  const bin = registryBin();
  if (!bin) throw new Error('docker-registry not found: set REGISTRY_BIN (scripts/debian-tool-fixture.sh)');
  const dir = await mkdtemp(join(tmpdir(), 'outpost-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  if (opts.auth) await writeFile(join(dir, 'htpasswd'), `${registryUser.username}:${registryUserHash}\n`);
  const config = [
    'version: 0.1',
    'log: {level: warn, accesslog: {disabled: true}}',
    `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`,
    `http: {addr: "${host}", secret: outpost-test-only}`,
    ...(opts.auth ? [`auth: {htpasswd: {realm: outpost-test, path: ${join(dir, 'htpasswd')}}}`] : []),
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), `${config}\n`);
  const child = spawn(bin, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  try {
    await waitForHttp(`http://${host}/v2/`, child, () => stderr);
  } catch (e) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    host,
    storage: join(dir, 'data'),
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An oras client logged in to a registry (credentials kept in `work`), for pushing artifacts. */
export interface FleetPusher {
  /** the registry config file oras reads its login from */
  config: string;
  /** pushes a fleet folder as Flux does: a tar+gzip of the folder, Flux's config and content media types */
  push(repo: string, tag: string, files: Record<string, string>): Promise<void>;
}

export function fleetPusher(registry: Registry, work: string): FleetPusher {
  const config = join(work, 'oras-auth.json');
  runTool('oras', [
    'login',
    '--plain-http',
    '--registry-config',
    config,
    registry.host,
    '-u',
    registryUser.username,
    '-p',
    registryUser.password,
  ]);
  let pushes = 0;
  return {
    config,
    async push(repo, tag, files) {
      const dir = join(work, `src-${repo}-${tag}-${++pushes}`);
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(dir, path)), { recursive: true });
        await writeFile(join(dir, path), content);
      }
      const push = join(work, `push-${repo}-${tag}-${pushes}`);
      await mkdir(push, { recursive: true });
      execFileSync('tar', ['-czf', join(push, 'fleet.tar.gz'), '-C', dir, '.']);
      await writeFile(join(push, 'config.json'), '{}');
      runTool(
        'oras',
        [
          'push',
          '--plain-http',
          '--registry-config',
          config,
          `${registry.host}/${repo}:${tag}`,
          '--config',
          `config.json:${fluxConfigMediaType}`,
          '--annotation',
          `org.opencontainers.image.revision=main@sha1:${tag}`,
          `fleet.tar.gz:${fluxContentMediaType}`,
        ],
        { cwd: push },
      );
    },
  };
}
