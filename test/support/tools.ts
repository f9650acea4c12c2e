// Where the tests find the real tools built or installed by the fixture scripts (scripts/test sets the
// variables): helm, kustomize, oras and cosign from the Go module proxy (scripts/go-tool-fixture.sh), and a
// test is skipped with the command to run when one is missing.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const versions = { helm: 'v4.3.2', kustomize: 'v5.8.2', oras: 'v1.3.6', cosign: 'v2.6.5' } as const;
const variables = {
  helm: 'HELM_BIN',
  kustomize: 'KUSTOMIZE_BIN',
  oras: 'ORAS_BIN',
  cosign: 'COSIGN_BIN',
} as const;

export type GoTool = keyof typeof versions;

/** The tool's binary: the variable's, else the fixture cache's; undefined when neither exists. */
export function goTool(tool: GoTool): string | undefined {
  const named = process.env[variables[tool]];
  if (named) return existsSync(named) ? named : undefined;
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  const built = join(cache, 'outpost', tool, versions[tool], tool);
  return existsSync(built) ? built : undefined;
}

/** A skip reason naming the fixture command, or false when every tool is there. */
export function missingTools(...tools: GoTool[]): string | false {
  const missing = tools.filter((t) => !goTool(t));
  if (missing.length === 0) return false;
  return missing
    .map((t) => `${t} not built: ${variables[t]}=$(bash scripts/go-tool-fixture.sh ${t})`)
    .join('; ');
}

/** Runs a tool, returning its standard output; throws with its standard error on failure. */
export function runTool(
  tool: GoTool,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  try {
    return execFileSync(goTool(tool)!, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')}: ${err.stderr || err.message}`);
  }
}
