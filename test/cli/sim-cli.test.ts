// `outpost sim` as an operator runs it: a real process simulating a few sites against a real hub,
// printing its summary as JSON when its time is up.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestHub, type TestHub } from '../support/fleet.ts';

const run = promisify(execFile);
const cli = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
let fleet: TestHub;

before(async () => {
  fleet = await startTestHub();
});

after(async () => {
  await fleet?.stop();
});

test('sim runs the sites it is asked for, registers them and prints a JSON summary at the end', async () => {
  const { stdout, stderr } = await run(process.execPath, [
    cli,
    'sim',
    '--join-token',
    fleet.joinToken,
    '--sites',
    '3',
    '--seed',
    'lisbon',
    '--regions',
    'eu-west',
    '--duration',
    '4',
    '--node-upgrade-ms',
    '1000',
    '--failing-upgrade',
    'store-0002',
  ]);
  assert.match(stderr, /simulated fleet starting sites=3/);
  const summary = JSON.parse(stdout);
  assert.equal(summary.sites, 3);
  assert.equal(summary.registered, 3);
  assert.deepEqual(summary.sitesByRegion, { 'eu-west': 3 });
  const sites = await fleet.api.sites();
  assert.deepEqual(sites.map((s) => s.name).sort(), ['store-0001', 'store-0002', 'store-0003']);
  assert.ok(sites.every((s) => s.labels.region === 'eu-west'));
  const stack = (await fleet.api.siteStack('store-0001')).stack;
  assert.ok(
    stack?.nodes.some((n) => n.name === 'store-0001-server' && n.controlPlane),
    `each store reports its nodes, a k3s server among them: ${JSON.stringify(stack)}`,
  );
});

test('sim without a site count is a usage error', async () => {
  const failed = await run(process.execPath, [cli, 'sim', '--join-token', fleet.joinToken]).catch(
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal((failed as { code: number }).code, 1);
  assert.match((failed as { stderr: string }).stderr, /--sites/);
});
