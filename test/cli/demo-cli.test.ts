// `outpost demo` as a newcomer runs it: a hub with the example fleet, simulated stores connecting to it
// with progress printed, the next steps kept, and Ctrl-C stopping everything cleanly.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../support/eventually.ts';

const cli = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

test('demo loads the example bundles, connects simulated stores, prints progress and stops on Ctrl-C', async () => {
  const child = spawn(process.execPath, [cli, 'demo', '--listen', '127.0.0.1:0', '--sites', '8'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await eventually('every simulated store to register', () => /registered=8\/8/.test(stderr), {
      timeoutMs: 60_000,
    });
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /^bundle hello revision 1 loaded from examples\/fleet\/hello$/m);
  assert.match(stdout, /^bundle pos revision 1 loaded from examples\/fleet\/pos$/m);
  assert.match(stdout, /^Next: connect a site/m);
  assert.match(stdout, /--join-token outpost-join-v1\./);
  assert.match(stdout, /^8 simulated stores in regions west, east, north and south connect now/m);
  const dataDir = /SQLite and CA in (\S+)\)/.exec(stdout)?.[1];
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});
