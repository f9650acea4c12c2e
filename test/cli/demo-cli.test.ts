// `outpost demo` as a newcomer runs it, with a small fleet: the hub syncs the example fleet from a real
// git repository, simulated stores connect, a good till release rolls out canary → waves, a bad one is
// caught at the canary and rolled back fleet-wide, and the demo exits after its story. The story is then
// checked through the operator API of a hub restarted on the demo's data directory, with the operator
// token the demo printed — not from the demo's own words. With the fixtures' helm and kustomize the
// example chart and kustomization run too; on a machine without them the demo leaves them out and says so.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { demoRegions, k3sFrom, k3sTo, upgradeFailingStore } from '../../src/cli/demo.ts';
import { HubApi } from '../../src/cli/hub-api.ts';
import { startHub } from '../../src/hub/start.ts';
import { planFleet } from '../../src/sim/fleet.ts';
import { goTool } from '../support/tools.ts';

const cli = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const helm = goTool('helm');
const kustomize = goTool('kustomize');

/** Runs `outpost demo` to its end; its exit code and what it printed. */
async function demo(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [cli, 'demo', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  return { code, stdout, stderr };
}

test('demo tells its story: a good release rolls out in waves, a bad one is caught and rolled back, a k3s upgrade pauses on a store that cannot take it', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'outpost-demo-test-'));
  try {
    const tools = helm && kustomize ? ['--helm', helm, '--kustomize', kustomize] : [];
    const { code, stdout, stderr } = await demo([
      '--sites',
      '10',
      '--processes',
      '2',
      '--data-dir',
      dataDir,
      '--exit-after-story',
      ...tools,
    ]);
    assert.equal(code, 0, stdout + stderr);

    assert.match(stdout, /^Dashboard: +https:\/\/127\.0\.0\.1:\d+\/ui\/ /m);
    const token = /^Operator token: (oat_\S+)/m.exec(stdout)?.[1];
    assert.ok(token, stdout);
    const synced = tools.length > 0 ? 'pos, scanners, self-checkout, signage' : 'pos, self-checkout';
    assert.match(stdout, new RegExp(`synced commit \\w+: hello, monitoring, ${synced}$`, 'm'));
    assert.match(stdout, /pos r1→r2 Baking +wave canary/);
    assert.match(stdout, /pos r1→r2 Succeeded/);
    assert.match(
      stdout,
      /gate \(deployment state\): store-\d+ reports pos Failed: .*ProgressDeadlineExceeded/,
    );
    assert.match(stdout, /every store is back on revision 2/);
    const failing = upgradeFailingStore(planFleet(10, 1, demoRegions), 1)!;
    assert.match(stdout, /Act 3: a Kubernetes upgrade/);
    assert.match(stdout, /profile stores r1→r2 Paused +wave region=north/);
    assert.match(stdout, new RegExp(`the upgrade paused on ${failing}`));

    const hub = await startHub({ dataDir, listen: '127.0.0.1:0', rollouts: { tickIntervalMs: 0 } });
    const api = new HubApi(hub.url, token, hub.caPem);
    try {
      // the good rollout succeeded and was superseded when the bad one started
      const rollouts = (await api.rollouts('pos')).sort((a, b) => a.toRevision - b.toRevision);
      assert.deepEqual(
        rollouts.map((r) => [r.fromRevision, r.toRevision, r.phase]),
        [
          [1, 2, 'Superseded'],
          [2, 3, 'Failed'],
        ],
      );
      const good = await api.rollout(rollouts[0]!.id);
      assert.deepEqual(
        good.waves.map((w) => w.name),
        ['canary', 'early', 'rest'],
      );
      for (const w of good.waves) assert.equal(w.statuses.Updated, w.sites, JSON.stringify(good.waves));
      const bad = await api.rollout(rollouts[1]!.id);
      assert.equal(bad.waves[0]!.statuses.RolledBack, 1, 'the canary went back');
      assert.equal(bad.waves[1]!.statuses.Updated ?? 0, 0, 'no store past the canary got the bad release');

      const types: string[] = (await api.events({ limit: 500 })).items.map((e) => e.type);
      for (const t of ['rollout_succeeded', 'rollout_site_failed', 'rollout_rolled_back'])
        assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
      const pos = (await api.status()).bundles.find((b) => b.name === 'pos')!;
      assert.equal(pos.revision, 3);
      const source = await api.source('fleet');
      assert.ok(source.synced, 'the git source synced');
      const sites = await api.sites();
      assert.equal(sites.length, 10);
      for (const s of sites) {
        assert.ok(s.labels.region && ['west', 'east', 'north', 'south'].includes(s.labels.region));
        assert.equal(typeof s.properties.storeId, 'number', `${s.name} was described by the back office`);
      }
      // the stores' golden signals reached the hub through the agents' telemetry and feed the SLOs
      const slos = await api.slos();
      assert.deepEqual(slos.map((x) => x.name).sort(), ['pos-availability', 'self-checkout-availability']);
      const posSlo = slos.find((x) => x.name === 'pos-availability')!;
      assert.ok(posSlo.attainment !== null && posSlo.attainment > 0.9, JSON.stringify(posSlo));
      const someStore = sites[0]!;
      const slis = await api.siteSlis(someStore.name);
      assert.ok(
        slis.series.some((x) => x.name === 'requests_total' && x.points.some(([, v]) => v > 0)),
        JSON.stringify(slis).slice(0, 500),
      );
      if (tools.length > 0) {
        // the chart and the kustomization reached every store they place on, and are running there
        const bundles = (await api.status()).bundles;
        const ready = (name: string) => bundles.find((b) => b.name === name)?.byState.Ready ?? 0;
        assert.equal(ready('signage'), 10, JSON.stringify(bundles));
        const minis = sites.filter((s) => s.labels.format === 'mini').length;
        assert.equal(ready('scanners'), minis, JSON.stringify(bundles));
        assert.match(stdout, /signage \(a Helm chart\) is made by \S+helm$/m);
      }
      // act 3: the k3s upgrade went canary → east, then paused in the north on the store left behind
      const [upgrade, ...others] = await api.profileRollouts('stores');
      assert.deepEqual(others, [], 'the first revision was given to the stores without a rollout');
      const rollout = await api.profileRollout(upgrade!.id);
      assert.equal(rollout.phase, 'Paused', JSON.stringify(rollout));
      assert.deepEqual(
        rollout.waves.map((w) => w.name),
        ['canary', 'region=east', 'region=north', 'region=south', 'region=west'],
      );
      for (const w of rollout.waves.slice(0, 2)) assert.equal(w.statuses.Updated, w.sites, JSON.stringify(w));
      assert.equal(rollout.waves[2]!.statuses.Failed, 1, JSON.stringify(rollout.waves[2]));
      for (const w of rollout.waves.slice(3))
        assert.equal(w.statuses.Waiting, w.sites, 'no store past the pause');
      assert.deepEqual(
        rollout.failed.map((f) => f.site),
        [failing],
      );
      assert.match(rollout.failed[0]!.reason, new RegExp(`kubernetes layer Behind \\(${failing}-`));
      const conformance = await api.profileConformance('stores');
      const behind = conformance.sites.filter((x) => x.state !== 'Conformant');
      assert.deepEqual(
        behind.map((x) => [x.site, x.state, x.revision]),
        [[failing, 'Behind', 2]],
      );
      const stack = await api.siteStack(failing);
      const kubelets = new Set(stack.stack?.nodes.map((n) => n.kubeletVersion));
      assert.deepEqual([...kubelets].sort(), [k3sFrom, k3sTo], 'some of its nodes moved, one did not');
      const onPos = await api.query({ bundle: 'pos', groupBy: ['revision', 'state'] });
      const revisions = new Set(onPos.groups?.map((g) => String(g.key.revision)));
      assert.deepEqual([...revisions], ['2'], JSON.stringify(onPos.groups));
    } finally {
      api.close();
      await hub.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('on a machine with no helm and no kustomize the demo leaves their examples out and says how to add them', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'outpost-demo-test-'));
  // an empty cache and a PATH that has git but no helm or kustomize: a fresh machine
  const cache = join(dataDir, 'cache');
  await mkdir(cache);
  try {
    const { code, stdout, stderr } = await demo(
      ['--sites', '0', '--data-dir', join(dataDir, 'hub'), '--exit-after-story'],
      { ...process.env, PATH: '/usr/bin:/bin', XDG_CACHE_HOME: cache },
    );
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout, /synced commit \w+: hello, monitoring, pos, self-checkout$/m);
    assert.match(
      stdout,
      /signage \(a Helm chart\) is left out: no helm on PATH; install helm v4 or give demo --helm PATH$/m,
    );
    assert.match(
      stdout,
      /scanners \(a kustomization\) is left out: no kustomize on PATH; .*--kustomize PATH$/m,
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
