// Builds the outpost command (agent, CLI and hub; never the tests) into one folder of bundled JavaScript:
// OUT/outpost.mjs with OUT/chunks/ (the hub's code, loaded only by `outpost hub` and `outpost demo`),
// OUT/agent-node-flags (what every launcher runs the agent with) and OUT/VERSION. Replaces OUT whole,
// so a failed build leaves no half of one. Used by scripts/build-app.sh (dist/app) and build-release.sh.
//
//   node scripts/build-app.ts --out DIR [--version V]     (V defaults to package.json's)

import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'rolldown';
import { agentNodeFlags } from '../src/agent/install/core/node-flags.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string' }, version: { type: 'string' } } });
if (!values.out) throw new Error('build-app: --out DIR is required');
const out = resolve(values.out);
const version =
  values.version ??
  (JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8')) as { version: string }).version;
if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(version))
  throw new Error(`build-app: --version "${version}" is not a version (letters, digits, . + _ -)`);

const tmp = `${out}.tmp`;
await rm(tmp, { recursive: true, force: true });
await build({
  cwd: root,
  input: resolve(root, 'src/cli/main.ts'),
  platform: 'node',
  logLevel: 'warn',
  transform: { define: { 'process.env.OUTPOST_BUILD_VERSION': JSON.stringify(version) } },
  output: {
    dir: tmp,
    format: 'esm',
    entryFileNames: 'outpost.mjs',
    chunkFileNames: 'chunks/[name]-[hash].mjs',
  },
});
await writeFile(resolve(tmp, 'agent-node-flags'), `${agentNodeFlags.join(' ')}\n`);
await writeFile(resolve(tmp, 'VERSION'), `${version}\n`);
await rm(out, { recursive: true, force: true });
await rename(tmp, out);
