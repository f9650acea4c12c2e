// `outpost agent` as a site runs it, in a process of its own with its own state directory: for tests
// that must see the shipped command (its flags, its restarts, its factory reset) rather than the class.

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { cliPath } from './cli.ts';
import type { TestHub } from './fleet.ts';
import type { KubeFixture } from './kube.ts';

export interface AgentProcess {
  child: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/**
 * `outpost agent` as a site runs it: its own process, its own state directory; `joinToken` other than
 * the fleet's, and `env` added to its environment (e.g. LD_PRELOAD and FAKETIME for a moved clock).
 */
export function startAgentProcess(
  fleet: TestHub,
  kube: KubeFixture,
  dir: string,
  name: string,
  extra: string[],
  opts: { joinToken?: string; env?: Record<string, string> } = {},
) {
  const child = spawn(
    process.execPath,
    [
      cliPath,
      'agent',
      '--join-token',
      opts.joinToken ?? fleet.joinToken,
      '--name',
      name,
      '--state-dir',
      join(dir, name),
      '--kubeconfig',
      kube.kubeconfigPath,
      '--machine-id',
      `machine-${name}`,
      '--no-local-page',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    log: () => stderr,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  } satisfies AgentProcess;
}
