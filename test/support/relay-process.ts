// A regional relay in a process of its own (`outpost relay`), so a test can kill it outright and start
// it again on the same state directory and port, as a relay machine that loses power would.

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { HttpClient } from '../../src/net/http-client.ts';
import { cliPath } from './cli.ts';

export interface RelayProcess {
  url: string;
  stateDir: string;
  pid: number;
  /** its stderr so far: its log */
  log(): string;
  /** GET /status: counts only */
  status(): Promise<{
    connectedSites: number;
    outbox: { pending: number; bytes: number; dropped: number };
    reports: { forwarded: number; keptBack: number };
  }>;
  /** SIGKILL: nothing is flushed or closed */
  kill(): Promise<void>;
  /** SIGTERM and wait */
  stop(): Promise<void>;
}

/** A port free now, for a relay that must come back on the same address. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRelayProcess(opts: {
  stateDir: string;
  port: number;
  joinToken?: string;
  caPem: string;
  extraArgs?: string[];
  /** added to the relay's environment (e.g. LD_PRELOAD and FAKETIME for a moved clock) */
  env?: Record<string, string>;
  /** node's own flags for the relay process (e.g. `--cpu-prof` to profile it under a benchmark) */
  nodeFlags?: string[];
  /** how long the relay may take to listen (default 30 s; a benchmark's busy hub enrols it slower) */
  startTimeoutMs?: number;
}): Promise<RelayProcess> {
  const args = [cliPath, 'relay', '--listen', `127.0.0.1:${opts.port}`, '--state-dir', opts.stateDir];
  if (opts.joinToken) args.push('--join-token', opts.joinToken);
  const child: ChildProcess = spawn(
    process.execPath,
    [...(opts.nodeFlags ?? []), ...args, ...(opts.extraArgs ?? [])],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...opts.env },
    },
  );
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`relay did not start:\n${stderr}`)),
      opts.startTimeoutMs ?? 30_000,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /relay listening .*url=(\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}:\n${stderr}`));
    });
  });
  const http = new HttpClient(url, { ca: opts.caPem });
  return {
    url,
    stateDir: opts.stateDir,
    pid: child.pid!,
    log: () => stderr,
    async status() {
      const res = await http.request('GET', '/status');
      if (res.status !== 200) throw new Error(`relay status: HTTP ${res.status}`);
      return res.body as Awaited<ReturnType<RelayProcess['status']>>;
    },
    async kill() {
      http.close();
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      http.close();
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
