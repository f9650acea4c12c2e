// SLOs and named rollout strategies written in the fleet repository, synced from a real git repository
// (a local path, read by the hub as a team's checkout would be) with the bundles of the same commit: a
// bundle names a strategy its commit brings and its next revision rolls out by it; git-made documents are
// marked and refuse API changes (409) while API-made ones keep working; a bad SLO, an unknown strategy or
// a clash with an API-made document rejects the whole commit and nothing of it is applied.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SyncResult } from '../../src/model/fleet-wire.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';
import { type HubServer, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
let repo: GitRepo;
let work: { dir: string; remove(): Promise<void> };

const bundle = (rollout: string, greeting: string) => `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: kiosk}
spec:
  placement: {selector: {}}
  rollout: ${rollout}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kiosk, namespace: default}
data: {greeting: ${greeting}}
`;

const careful = (bakeSeconds: number) => `apiVersion: outpost.dev/v1
kind: RolloutStrategy
metadata: {name: careful}
spec:
  waves:
    - {name: first, count: 1}
    - {name: rest, percent: 100}
  bakeSeconds: ${bakeSeconds}
  onFailure: rollback
`;

const slo = (objective: number, window = '7d') => `apiVersion: outpost.dev/v1
kind: SLO
metadata: {name: kiosk-availability}
spec:
  bundle: kiosk
  objective: ${objective}
  window: ${window}
  sli: {kind: errors}
  description: kiosk requests that succeed
`;

async function sync(): Promise<SyncResult> {
  const r = await hub.operator('POST', '/api/v1/sources/fleet/sync');
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function stored() {
  const db = hub.ctx.store.db;
  return {
    slos: await db.selectFrom('slos').select(['name', 'spec', 'source']).orderBy('name').execute(),
    strategies: await db.selectFrom('rollout_strategies').select(['name', 'spec', 'source']).execute(),
    kiosk: await db.selectFrom('bundles').select(['revision']).where('name', '=', 'kiosk').executeTakeFirst(),
  };
}

before(async () => {
  work = await tempDir('outpost-fleet-docs-');
  repo = await createRepo(work.dir, 'fleet');
  hub = await startHubServer({ rollouts: { tickIntervalMs: 0 } });
  await hub.enroll('kiosk-1', { region: 'west' });
  await hub.enroll('kiosk-2', { region: 'east' });
  const r = await hub.operator('POST', '/api/v1/sources', {
    name: 'fleet',
    url: repo.dir,
    ref: 'main',
    intervalSeconds: 3600,
  });
  assert.equal(r.statusCode, 201, r.body);
});

after(async () => {
  await hub?.close();
  await work?.remove();
});

describe('SLOs and rollout strategies from git', () => {
  test('documents land with the bundles of their commit, marked as from the source', async () => {
    const commit = await repo.commit('kiosk with its SLO and strategy', {
      'kiosk/bundle.yaml': bundle('careful', 'hello'),
      'kiosk/slo.yaml': slo(0.99),
      'strategies/careful.yaml': careful(60),
    });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.equal(result.commit, commit);
    assert.deepEqual(result.changed, ['kiosk']);
    assert.deepEqual(result.documents, {
      changed: ['RolloutStrategy/careful', 'SLO/kiosk-availability'],
      deleted: [],
    });
    const slos = (await hub.operator('GET', '/api/v1/slos')).json().items;
    assert.deepEqual(
      slos.map((s: { name: string; source?: string; objective: number }) => [s.name, s.source, s.objective]),
      [['kiosk-availability', 'fleet', 0.99]],
    );
    const strategies = (await hub.operator('GET', '/api/v1/rollout-strategies')).json().items as Array<{
      name: string;
      builtin: boolean;
      source?: string;
    }>;
    assert.deepEqual(
      strategies.map((s) => [s.name, s.builtin, s.source ?? null]),
      [
        ['canary', true, null],
        ['by-region', true, null],
        ['manual', true, null],
        ['emergency', true, null],
        ['careful', false, 'fleet'],
      ],
    );
  });

  test("a bundle's next revision rolls out by the strategy its repository names", async () => {
    await repo.commit('kiosk greets differently', { 'kiosk/bundle.yaml': bundle('careful', 'welcome') });
    assert.equal((await sync()).status, 'synced');
    const rollouts = (await hub.operator('GET', '/api/v1/rollouts?bundle=kiosk')).json().items;
    assert.equal(rollouts.length, 1);
    const detail = (await hub.operator('GET', `/api/v1/rollouts/${rollouts[0].id}`)).json();
    assert.deepEqual(
      detail.waves.map((w: { name: string }) => w.name),
      ['first', 'rest'],
    );
    assert.equal(detail.strategy.bakeSeconds, 60);
    assert.equal(detail.strategy.onFailure, 'rollback');
  });

  test('git-made documents refuse API changes; API-made ones keep working beside them', async () => {
    const operator = await hub.tokenFor('operator');
    const sloChange = await hub.operator(
      'POST',
      '/api/v1/slos',
      { name: 'kiosk-availability', bundle: 'kiosk', objective: 0.9, window: '7d', sli: { kind: 'errors' } },
      operator,
    );
    assert.equal(sloChange.statusCode, 409, sloChange.body);
    assert.match(sloChange.json().error.message, /comes from source fleet/);
    assert.equal(
      (await hub.operator('DELETE', '/api/v1/slos/kiosk-availability', undefined, operator)).statusCode,
      409,
    );
    const strategyChange = await hub.operator(
      'POST',
      '/api/v1/rollout-strategies',
      { name: 'careful', strategy: { bakeSeconds: 1 } },
      operator,
    );
    assert.equal(strategyChange.statusCode, 409);
    assert.equal(
      (await hub.operator('DELETE', '/api/v1/rollout-strategies/careful', undefined, operator)).statusCode,
      409,
    );

    const made = await hub.operator(
      'POST',
      '/api/v1/slos',
      { name: 'kiosk-latency', bundle: 'kiosk', objective: 0.95, window: '1d', sli: { kind: 'latency' } },
      operator,
    );
    assert.equal(made.statusCode, 201, made.body);
    assert.equal(made.json().source, undefined, 'an API-made SLO names no source');
    const fast = await hub.operator(
      'POST',
      '/api/v1/rollout-strategies',
      { name: 'fast', strategy: { waves: [{ name: 'all', percent: 100 }], bakeSeconds: 0 } },
      operator,
    );
    assert.equal(fast.statusCode, 201, fast.body);
    const replaced = await hub.operator(
      'POST',
      '/api/v1/rollout-strategies',
      { name: 'fast', strategy: { bakeSeconds: 5 } },
      operator,
    );
    assert.equal(replaced.statusCode, 200);
    const builtin = await hub.operator(
      'POST',
      '/api/v1/rollout-strategies',
      { name: 'canary', strategy: {} },
      operator,
    );
    assert.equal(builtin.statusCode, 409);
    const invalid = await hub.operator(
      'POST',
      '/api/v1/rollout-strategies',
      { name: 'broken', strategy: { maxConcurency: 1 } },
      operator,
    );
    assert.equal(invalid.statusCode, 400);
    assert.match(invalid.json().error.message, /maxConcurency: unknown field/);
  });

  test('the strategy API needs a token, and an operator to change anything', async () => {
    assert.equal((await hub.operator('GET', '/api/v1/rollout-strategies', undefined, '')).statusCode, 401);
    assert.equal(
      (await hub.operator('GET', '/api/v1/rollout-strategies', undefined, 'oat_wrong')).statusCode,
      401,
    );
    const viewer = await hub.tokenFor('viewer');
    assert.equal(
      (await hub.operator('GET', '/api/v1/rollout-strategies/careful', undefined, viewer)).statusCode,
      200,
    );
    const write = await hub.operator(
      'POST',
      '/api/v1/rollout-strategies',
      { name: 'sneaky', strategy: {} },
      viewer,
    );
    assert.equal(write.statusCode, 403);
    assert.equal(
      (await hub.operator('DELETE', '/api/v1/rollout-strategies/fast', undefined, viewer)).statusCode,
      403,
    );
  });

  test('a commit with a bad SLO, an unknown strategy or a clash with an API-made SLO is rejected whole', async () => {
    const before = await stored();
    const bad = await repo.commit('everything wrong at once', {
      'kiosk/bundle.yaml': bundle('hasty', 'changed'),
      'kiosk/slo.yaml': slo(0.999, '90d'),
      'more/latency.yaml': `apiVersion: outpost.dev/v1
kind: SLO
metadata: {name: kiosk-latency}
spec: {bundle: kiosk, objective: 0.9, window: 1d, sli: {kind: latency}}
`,
      'strategies/careful.yaml': careful(120),
    });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    assert.equal(result.commit, bad);
    const problems = result.errors.map((p) => `${p.file}:${p.line} ${p.message}`);
    assert.ok(
      problems.some((p) => /^kiosk\/bundle\.yaml:6 .*no strategy named "hasty"/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        /^kiosk\/slo\.yaml:7 SLO kiosk-availability: window 90d is longer than the 35d/.test(p),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /^more\/latency\.yaml:1 SLO kiosk-latency already comes from the API/.test(p)),
      problems.join('\n'),
    );
    // nothing of the commit: not the strategy's new bake, not the bundle, not the SLO
    assert.deepEqual(await stored(), before);
  });

  test('a malformed document is refused with the line of the field', async () => {
    await repo.commit('a typo', {
      'kiosk/bundle.yaml': bundle('careful', 'hello'),
      'kiosk/slo.yaml': slo(1.5),
      'more/latency.yaml': null,
      'strategies/careful.yaml': `${careful(60)}  maxConcurency: 2\n`,
    });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    const problems = result.errors.map((p) => `${p.file}:${p.line} ${p.message}`);
    assert.ok(
      problems.includes('kiosk/slo.yaml:6 SLO spec.objective: a fraction between 0 and 1, such as 0.999'),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        /^strategies\/careful\.yaml:10 RolloutStrategy spec\.maxConcurency: unknown field/.test(p),
      ),
      problems.join('\n'),
    );
  });

  test('documents removed from the repository are removed from the hub', async () => {
    await repo.commit('no more SLO or strategy', {
      'kiosk/bundle.yaml': bundle('canary', 'hello'),
      'kiosk/slo.yaml': null,
      'strategies/careful.yaml': null,
    });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.deepEqual(result.documents, {
      changed: [],
      deleted: ['RolloutStrategy/careful', 'SLO/kiosk-availability'],
    });
    const { slos, strategies } = await stored();
    assert.deepEqual(
      slos.map((s) => [s.name, s.source]),
      [['kiosk-latency', null]],
    );
    assert.deepEqual(
      strategies.map((s) => [s.name, s.source]),
      [['fast', null]],
    );
  });

  test('a strategy named by a bundle from elsewhere cannot be dropped by a commit', async () => {
    await repo.commit('careful again', { 'strategies/careful.yaml': careful(30) });
    assert.equal((await sync()).status, 'synced');
    const applied = await hub.operator('POST', '/api/v1/bundles/apply', {
      files: [
        {
          path: 'printer.yaml',
          content: `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: printer}
spec: {placement: {selector: {}}, rollout: careful}
`,
        },
      ],
    });
    assert.equal(applied.statusCode, 200, applied.body);
    await repo.commit('careful gone', { 'strategies/careful.yaml': null });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    assert.match(
      result.errors[0]!.message,
      /careful is removed, but bundles printer \(not from this commit\)/,
    );
    assert.equal(
      (await stored()).strategies.some((s) => s.name === 'careful'),
      true,
    );
  });
});
