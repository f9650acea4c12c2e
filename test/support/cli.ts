// Runs the `outpost` command as an operator would: a real process, pointed at a test hub as its admin,
// returning the exit code and both outputs instead of throwing on a non-zero exit.

import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestHub } from './fleet.ts';

const run = promisify(execFile);
export const cliPath = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runOutpost(
  fleet: TestHub,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], {
      env: {
        ...process.env,
        OUTPOST_HUB: fleet.hub.url,
        OUTPOST_TOKEN: fleet.adminToken,
        OUTPOST_CA_FILE: fleet.hub.caFile ?? '',
        ...env,
      },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
