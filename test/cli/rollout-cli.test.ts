// `outpost rollout` as an operator runs it: a real process against a real hub, with a rollout started by
// applying a revision that carries spec.rollout.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HubClient } from '../../src/agent/hub-client.ts';
import { bucketMs, bucketStart } from '../../src/hub/slo/core/buckets.ts';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import type { TelemetrySample } from '../../src/model/telemetry.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import { runOutpost } from '../support/cli.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';
import { enrollAt, type Site } from '../support/hub-server.ts';

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

async function applyVersion(
  version: string,
  rollout?: Record<string, unknown>,
  bundle = 'web',
  tier = 'edge',
): Promise<void> {
  const manifest = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: bundle, namespace: 'default' },
    data: { version },
  };
  const file = join(dir, `${bundle}.yaml`);
  const { files } = bundleFile(bundle, { matchLabels: { tier } }, [manifest], rollout ? { rollout } : {});
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

/** The site runs whatever revision of `bundle` it is told to, and says it is Ready. */
async function runReady(site: Site, bundle: string, seq: number): Promise<number> {
  const desired = await site.call('GET', '/agent/v1/sites/:site/desired');
  assert.equal(desired.status, 200);
  const d = (
    desired.body as { deployments: Array<{ bundle: string; revision: number; digest: string }> }
  ).deployments.find((x) => x.bundle === bundle);
  assert.ok(d, `${bundle} is placed on ${site.name}`);
  const r = await site.call('POST', '/agent/v1/sites/:site/report', {
    seq,
    deployments: [{ bundle, digest: d.digest, state: 'Ready', counts: { total: 1, applied: 1, ready: 1 } }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return d.revision;
}

test('rollout show prints each gate with its value now, threshold and verdict', async () => {
  const site = await enrollAt(
    fleet.hub.url,
    fleet.hub.caPem,
    decodeJoinToken(fleet.joinToken)!.token,
    'gated-a',
    { tier: 'gated' },
  );
  try {
    await applyVersion('1', undefined, 'gated', 'gated');
    assert.equal(await runReady(site, 'gated', 1), 1);
    await applyVersion(
      '2',
      {
        waves: [{ name: 'all', percent: 100 }],
        bakeSeconds: 3600,
        gates: [{ metric: 'error_rate', op: '<', threshold: 0.05 }],
      },
      'gated',
      'gated',
    );
    const listed = await outpost(['rollout', 'list', '--bundle', 'gated', '-o', 'json']);
    const id = (JSON.parse(listed.stdout) as Array<{ id: string }>)[0]!.id;
    const before = await outpost(['rollout', 'show', id]);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /GATE\s+NOW\s+THRESHOLD\s+BASELINE\s+VERDICT\s+REASON/);
    assert.match(before.stdout, /error_rate\s+-\s+< 0.05\s+-\s+no-data\s+no updated site/);

    let seq = 1;
    await eventually(
      'the site to be given revision 2',
      async () => (await runReady(site, 'gated', ++seq)) === 2,
    );
    // gates count only buckets begun after the site started, and buckets are 5 minutes long: the site
    // reports for the next one (the hub takes a site clock up to an hour ahead) rather than wait for it
    const t = bucketStart(Date.now()) + bucketMs;
    const samples: TelemetrySample[] = [
      { class: 'sli', name: 'requests_total', bundle: 'gated', t, d: 60_000, v: 1000 },
      { class: 'sli', name: 'errors_total', bundle: 'gated', t, d: 60_000, v: 10 },
    ];
    const posted = await site.call('POST', '/agent/v1/sites/:site/telemetry', {
      batchId: 'cli-1',
      samples,
      events: [],
      dropped: { sli: 0, event: 0, metric: 0, debug: 0 },
    });
    assert.deepEqual(posted.body, { accepted: true });
    // the controller (ticking every few seconds) marks the Ready site Updated; then the gate has a value
    const shown = await eventually(
      'rollout show to print the gate passing',
      async () => {
        const r = await outpost(['rollout', 'show', id]);
        return /error_rate\s+0.01\s+< 0.05\s+-\s+pass\s+worst error_rate over 1 updated site is 0.01/.test(
          r.stdout,
        )
          ? r
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.equal(shown.code, 0, shown.stderr);
  } finally {
    site.http.close();
  }
});
