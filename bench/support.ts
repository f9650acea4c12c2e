// Shared pieces of the benchmarks: a hub in its own process (so the load generator's CPU is its own
// and measurable), CPU accounting from /proc, and percentiles.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

export interface HubProcess {
  url: string;
  adminToken: string;
  caPem: string;
  pid: number;
  dataDir: string;
  /** seconds since the hub process was spawned: where a window lies in its CPU profile */
  uptime(): number;
  stop(): Promise<void>;
  /** SIGKILL, as a hub machine that loses power: nothing flushed, the data directory kept for a restart */
  kill(): Promise<void>;
}

/**
 * Node flags for every hub process a benchmark starts, e.g. to profile it:
 * OUTPOST_BENCH_HUB_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (the profile is written when the
 * hub exits; `node bench/cpu-profile.ts` summarizes it). OUTPOST_BENCH_HUB_LOG=1 passes the hub's log
 * on to stderr, at OUTPOST_BENCH_HUB_LOG_LEVEL (default warn; info logs every request with its time).
 */
const hubNodeFlags = (process.env.OUTPOST_BENCH_HUB_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/**
 * The 2 cores are split: the hub gets core 0, the load generator core 1 (`taskset`), so neither
 * starves the other and each one's CPU is its own. Without taskset both run unpinned.
 */
export const hubCore = 0;
export const generatorCore = 1;

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A command line that runs on one core only (all its threads), when taskset is there. */
export function onCore(core: number, command: string, args: string[]): [string, string[]] {
  return hasTaskset() ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
}

/** Pins this process (every thread) to one core. */
export function pinSelf(core: number): void {
  if (hasTaskset()) execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)]);
}

/**
 * Starts `outpost hub` on a free port in a data directory (a fresh one unless given) and waits until it
 * listens, pinned to the hub's core unless `core` is false (replicas share the machine unpinned). With
 * `adminToken` (also passed as --admin-token), as replicas sharing a database are, no token is printed.
 */
export async function startHubProcess(
  extraArgs: string[] = [],
  opts: { adminToken?: string; dataDir?: string; core?: number | false } = {},
): Promise<HubProcess> {
  const dir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'outpost-bench-')));
  const hubArgs = [
    ...hubNodeFlags,
    cli,
    'hub',
    '--data-dir',
    dir,
    '--listen',
    '127.0.0.1:0',
    '--log-level',
    process.env.OUTPOST_BENCH_HUB_LOG_LEVEL ?? 'warn',
    ...extraArgs,
  ];
  const [command, args] =
    opts.core === false
      ? [process.execPath, hubArgs]
      : onCore(opts.core ?? hubCore, process.execPath, hubArgs);
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const spawnedAt = performance.now();
  let out = '';
  const ready = new Promise<{ url: string; adminToken: string }>((resolvePromise, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (process.env.OUTPOST_BENCH_HUB_LOG) process.stderr.write(chunk);
      const url = /hub listening on (\S+)/.exec(out)?.[1];
      const token = opts.adminToken ?? /admin token \(shown once\): (\S+)/.exec(out)?.[1];
      if (url && token) resolvePromise({ url, adminToken: token });
    });
    child.once('exit', (code) => reject(new Error(`hub exited with ${code}: ${out}`)));
  });
  // a benchmark that fails half-way leaves no hub behind
  process.once('exit', () => child.kill());
  const { url, adminToken } = await ready;
  const caFile = extraArgs.includes('--ca-cert')
    ? extraArgs[extraArgs.indexOf('--ca-cert') + 1]!
    : join(dir, 'ca.crt');
  return {
    url,
    adminToken,
    caPem: await readFile(caFile, 'utf8'),
    pid: child.pid!,
    dataDir: dir,
    uptime: () => (performance.now() - spawnedAt) / 1000,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
    async kill() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
