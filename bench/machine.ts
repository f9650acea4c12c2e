// What every benchmark result is stated with: the machine, the date and the commit it measured.

import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function describeMachine(): Promise<string> {
  let commit = 'unknown';
  try {
    const { stdout } = await exec('git', ['rev-parse', '--short', 'HEAD']);
    const dirty = (await exec('git', ['status', '--porcelain', '--untracked-files=no'])).stdout.trim();
    commit = `${stdout.trim()}${dirty ? ' (with uncommitted changes)' : ''}`;
  } catch {
    // not a git checkout
  }
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${os.availableParallelism()} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${
    process.versions.node
  }, ${new Date().toISOString().slice(0, 10)}, commit ${commit}`;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
