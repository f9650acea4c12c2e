// `outpost slo` as an operator runs it: a real process against a real hub, SLOs applied from a YAML file.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runOutpost } from '../support/cli.ts';
import { startTestHub, type TestHub } from '../support/fleet.ts';

let fleet: TestHub;
let dir: string;

before(async () => {
  fleet = await startTestHub({ alerts: { intervalMs: 0 } });
  dir = await mkdtemp(join(tmpdir(), 'outpost-slo-cli-'));
});

after(async () => {
  await fleet?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('slo apply, list, get and delete', async () => {
  const file = join(dir, 'slos.yaml');
  await writeFile(
    file,
    [
      'name: pos-availability',
      'bundle: pos',
      'objective: 0.999',
      'window: 28d',
      'sli: {kind: errors}',
      'description: checkout answers',
      '---',
      'name: pos-latency-west',
      'bundle: pos',
      'selector: {matchLabels: {region: west}}',
      'objective: 0.99',
      'window: 7d',
      'sli: {kind: latency}',
      '',
    ].join('\n'),
  );
  const applied = await runOutpost(fleet, ['slo', 'apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /slo pos-availability applied/);
  assert.match(applied.stdout, /slo pos-latency-west applied/);

  const list = await runOutpost(fleet, ['slo', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /pos-availability\s+pos\s+\(all\)\s+99\.900%\s+28d/);
  assert.match(list.stdout, /pos-latency-west\s+pos\s+region=west/);

  const got = await runOutpost(fleet, ['slo', 'get', 'pos-availability', '-o', 'json']);
  assert.equal(got.code, 0, got.stderr);
  const view = JSON.parse(got.stdout);
  assert.deepEqual([view.budgetRemaining, view.alert, view.worstSites], [1, 'ok', []]);

  assert.equal((await runOutpost(fleet, ['slo', 'delete', 'pos-availability'])).code, 0);
  const again = await runOutpost(fleet, ['slo', 'delete', 'pos-availability']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /not_found/);

  await writeFile(file, 'name: bad\nbundle: pos\nobjective: 2\nwindow: 28d\nsli: {kind: errors}\n');
  const bad = await runOutpost(fleet, ['slo', 'apply', '-f', file]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /request_invalid/);
});
