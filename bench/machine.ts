// What every benchmark result is stated with: the machine, the date and the commit it measured.

import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The short commit checked out, marked when the tree has uncommitted changes; 'unknown' outside git. */
export async function gitCommit(): Promise<string> {
  try {
    const { stdout } = await exec('git', ['rev-parse', '--short', 'HEAD']);
    const dirty = (await exec('git', ['status', '--porcelain', '--untracked-files=no'])).stdout.trim();
    return `${stdout.trim()}${dirty ? ' (with uncommitted changes)' : ''}`;
  } catch {
    return 'unknown';
  }
}

/**
 * Cores, CPU model, memory and Node version: e.g. "2 cores (Intel Xeon), 24 GiB, Node 24.21.0". The
 * machine's cores, not this process's: a benchmark pinned to one core (taskset) still runs on two.
 */
export function machineName(): string {
  const cpus = os.cpus();
  const cpu = cpus[0]?.model.trim() ?? 'unknown CPU';
  return `${cpus.length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${
    process.versions.node
  }`;
}

export async function describeMachine(): Promise<string> {
  return `${machineName()}, ${new Date().toISOString().slice(0, 10)}, commit ${await gitCommit()}`;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
