// `outpost rollout` as an operator runs it: a real process against a real hub, with a rollout started by
// applying a revision that carries spec.rollout.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HubClient } from '../../src/agent/hub-client.ts';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import { createCsr, generateKeyPair } from '../../src/pki/pki.ts';
import { runOutpost } from '../support/cli.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';

let fleet: TestHub;
let dir: string;

before(async () => {
  fleet = await startTestHub();
  dir = await mkdtemp(join(tmpdir(), 'outpost-rollout-cli-'));
});

after(async () => {
  await fleet?.stop();
  await rm(dir, { recursive: true, force: true });
});

function outpost(args: string[]) {
  return runOutpost(fleet, args);
}

async function applyVersion(version: string, rollout?: Record<string, unknown>): Promise<void> {
  const manifest = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'web', namespace: 'default' },
    data: { version },
  };
  const file = join(dir, 'web.yaml');
  const { files } = bundleFile(
    'web',
    { matchLabels: { tier: 'edge' } },
    [manifest],
    rollout ? { rollout } : {},
  );
  await writeFile(file, files[0]!.content);
  const r = await outpost(['bundle', 'apply', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
}

test('rollout list, show and pause steer a rollout started by an apply', async () => {
  const agentApi = new HubClient(fleet.hub.url, fleet.hub.caPem);
  try {
    for (const name of ['edge-a', 'edge-b', 'edge-c']) {
      await agentApi.register({
        token: decodeJoinToken(fleet.joinToken)!.token,
        machineId: `machine-${name}-0001`,
        name,
        labels: { tier: 'edge' },
        csr: createCsr({ commonName: name, keyPem: generateKeyPair().privateKeyPem }),
      });
    }
  } finally {
    agentApi.close();
  }
  await applyVersion('1');
  await applyVersion('2', {
    waves: [
      { name: 'canary', count: 1 },
      { name: 'rest', percent: 100 },
    ],
    bakeSeconds: 3600,
  });

  const listed = await outpost(['rollout', 'list', '--bundle', 'web', '-o', 'json']);
  assert.equal(listed.code, 0, listed.stderr);
  const items = JSON.parse(listed.stdout) as Array<{ id: string; fromRevision: number; toRevision: number }>;
  assert.equal(items.length, 1);
  assert.deepEqual([items[0]!.fromRevision, items[0]!.toRevision], [1, 2]);
  const id = items[0]!.id;

  const paused = await outpost(['rollout', 'pause', id]);
  assert.equal(paused.code, 0, paused.stderr);
  assert.match(paused.stdout, /web r1 → r2 {2}Paused/);

  const shown = await outpost(['rollout', 'show', id, '-o', 'json']);
  const detail = JSON.parse(shown.stdout) as { phase: string; waves: Array<{ name: string; sites: number }> };
  assert.equal(detail.phase, 'Paused');
  assert.deepEqual(
    detail.waves.map((w) => [w.name, w.sites]),
    [
      ['canary', 1],
      ['rest', 2],
    ],
  );

  const missing = await outpost(['rollout', 'resume', 'no-such-rollout']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /not_found/);
});
