// The agent's host-layer work beside its bundles on a real kube-apiserver, as the agent wires them: the
// reconciler and the host-layer upgrades read one desired state carrying a profile's `stack`. The test
// plays system-upgrade-controller (it moves the nodes the Plans select) and writes the host hooks as real
// shell scripts: the OS goes first, Kubernetes only once it is there, and workloads stay enforced meanwhile.
// A hub is not needed to hand over a desired state (the hub's side is tested with a hub); the one here is
// made as DesiredSync would save it.

import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DesiredSource } from '../../src/agent/desired-sync.ts';
import { HostLayerUpgrades } from '../../src/agent/host-layers/host-layer-upgrades.ts';
import { KubeCluster } from '../../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../../src/agent/kube/config.ts';
import { Reconciler } from '../../src/agent/reconciler.ts';
import { LocalState } from '../../src/agent/state/local-state.ts';
import { withApplyDefaults } from '../../src/model/apply-options.ts';
import type { LayerUpgrade, StackTarget } from '../../src/model/site-stack.ts';
import type { DesiredState } from '../../src/model/wire.ts';
import { createRenderer } from '../../src/render/rendered.ts';
import { eventually } from '../support/eventually.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import {
  createNode,
  installUpgradeController,
  plansPath,
  playController,
  reportKubelet,
} from '../support/upgrade-controller.ts';

let kube: KubeFixture;
let cluster: KubeCluster;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outpost-host-layers-'));
  kube = await startKube();
  cluster = new KubeCluster(kubeConfigFromFile(kube.kubeconfigPath));
  await installUpgradeController(kube);
  await createNode(kube, 'server', true);
  await createNode(kube, 'till-1', false);
  await createNode(kube, 'till-2', false);
  for (const n of ['server', 'till-1', 'till-2']) await reportKubelet(kube, n, 'v1.30.6+k3s1');
  await eventually('the Plan kind in discovery', async () =>
    cluster.resourceOf('upgrade.cattle.io/v1', 'Plan'),
  );
});

after(async () => {
  cluster?.close();
  await kube?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Writes an executable hook; each run appends "layer version" to runs.log in its state folder. */
async function hook(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\necho "$1 $2" >> "$OUTPOST_HOOK_STATE/runs.log"\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

const exists = (path: string) =>
  readFile(path).then(
    () => true,
    () => false,
  );

const menu = (price: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'menu', namespace: 'default' },
  data: { coffee: price },
});

/**
 * One site's agent parts on the fixture cluster, with its own state directory: the reconciler enforcing
 * a bundle and the host-layer upgrades, both following `give`n desired states, until `stop`.
 */
async function site(opts: { allowed: string[]; stateDir?: string; deadlineSeconds?: number }) {
  const stateDir = opts.stateDir ?? (await mkdtemp(join(dir, 'site-')));
  const state = await LocalState.open(stateDir);
  let desired: DesiredState | undefined;
  const source: DesiredSource = {
    current: () => desired,
    blobMissing: () => {},
    pruneBlobs: async () => {},
  };
  const reconciler = await Reconciler.open({
    cluster,
    state,
    desired: source,
    report: async () => {},
    readinessResyncMs: 500,
    heartbeatMs: 5000,
    // a change on the site is seen through the watch alone
    driftCheckMs: 600_000,
    watch: true,
  });
  const shown: LayerUpgrade[][] = [];
  const layers = new HostLayerUpgrades({
    cluster,
    stateDir,
    target: () => desired && (desired.stack ?? null),
    allowedHooks: new Set(opts.allowed),
    pollMs: 100,
    recheckMs: 1000,
    onChange: () => shown.push(layers.upgrades()),
  });
  const ctl = new AbortController();
  // started with the first desired state, as an agent restarts with the one it saved
  let running: Promise<unknown> | undefined;
  let n = 0;
  const give = async (stack: StackTarget | undefined, price = '2.50') => {
    const blob = createRenderer({
      bundle: 'menu',
      objects: [menu(price)],
      options: withApplyDefaults({}),
    }).render({ name: 'store-1', labels: {}, properties: {} });
    await state.saveBlob(blob.digest, blob.content);
    n++;
    desired = {
      site: 'store-1',
      digest: `sha256:${String(n).padStart(64, '0')}`,
      deployments: [{ bundle: 'menu', revision: 1, digest: blob.digest }],
      ...(stack ? { stack } : {}),
    };
    reconciler.wake();
    layers.wake();
    running ??= Promise.all([reconciler.run(ctl.signal), layers.run(ctl.signal)]);
  };
  const layer = (name: 'os' | 'kubernetes') => layers.upgrades().find((u) => u.layer === name);
  const stop = async () => {
    ctl.abort();
    await running;
    await reconciler.stopped();
  };
  return { stateDir, layers, shown, give, layer, stop };
}

const stack = (over: Partial<StackTarget>): StackTarget => ({
  profile: 'stores',
  revision: 1,
  upgradeDeadlineSeconds: 120,
  ...over,
});

const menuPath = '/api/v1/namespaces/default/configmaps/menu';

test('OS first through its hook, then Kubernetes through the Plans node by node; the menu stays enforced', async () => {
  const osHook = await hook(
    'os-wait.sh',
    [
      // first run: the image is staged and a reboot scheduled; the OS is not there yet
      'if [ ! -f "$OUTPOST_HOOK_STATE/staged" ]; then touch "$OUTPOST_HOOK_STATE/staged"; echo "progress reboot scheduled"; exit 75; fi',
      'echo "progress writing image"',
      'while [ ! -f "$OUTPOST_HOOK_STATE/go" ]; do sleep 0.1; done',
      'echo "progress image written"',
      'exit 0',
    ].join('\n'),
  );
  const s = await site({ allowed: [osHook] });
  try {
    await s.give(
      stack({
        os: { image: 'SL-Micro', version: '6.1' },
        kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1' },
        hooks: { os: { command: [osHook] } },
      }),
    );
    await eventually('the OS hook to say it writes', async () => s.layer('os')?.detail === 'writing image');
    assert.equal(s.layer('os')?.state, 'Upgrading');
    assert.ok(
      s.shown.some((u) => u[0]?.detail === 'the os hook asks to be run again: reboot scheduled'),
      'the first run asked to be run again',
    );
    assert.equal(s.layer('kubernetes'), undefined, 'Kubernetes waits for the OS');
    assert.equal(
      (await kube.request('GET', plansPath)).body.items.length,
      0,
      'no Plan before the OS is there',
    );

    // mid-upgrade, someone edits the bundle's ConfigMap: the reconciler puts it back all the same
    await eventually('the menu applied', async () => (await kube.request('GET', menuPath)).status === 200);
    const edit = await kube.request(
      'PATCH',
      `${menuPath}?fieldManager=kubectl-edit`,
      { data: { coffee: '9.99' } },
      'application/merge-patch+json',
    );
    assert.equal(edit.status, 200);
    await eventually(
      'the edit undone while the OS hook still runs',
      async () => (await kube.request('GET', menuPath)).body.data.coffee === '2.50',
    );
    assert.equal(s.layer('os')?.state, 'Upgrading');

    await writeFile(join(s.stateDir, 'hooks', 'os', 'go'), '');
    await eventually(
      'both Plans applied',
      async () => (await kube.request('GET', plansPath)).body.items.length === 2,
    );
    assert.equal(s.layer('os')?.state, 'Conformant');
    assert.equal(s.layer('os')?.detail, 'the os hook reached 6.1: image written');
    await eventually('the first Kubernetes progress', async () => s.layer('kubernetes')?.behind.length === 3);
    await playController(kube, 'k3s', undefined, (node) =>
      eventually(`the agent to see ${node} move`, async () => !s.layer('kubernetes')?.behind.includes(node)),
    );
    await eventually('Kubernetes Conformant', async () => s.layer('kubernetes')?.state === 'Conformant');
    const kubeSeen = s.shown
      .map((u) => u.find((x) => x.layer === 'kubernetes'))
      .filter((u) => u !== undefined)
      .map((u) => `${u.state} ${u.behind.join(',')}`);
    assert.deepEqual(
      [...new Set(kubeSeen)],
      ['Upgrading server,till-1,till-2', 'Upgrading till-1,till-2', 'Upgrading till-2', 'Conformant '],
    );
    assert.deepEqual(
      (await readFile(join(s.stateDir, 'hooks', 'os', 'runs.log'), 'utf8')).trim().split('\n'),
      ['os 6.1', 'os 6.1'],
    );
  } finally {
    await s.stop();
  }
});

test('a node left behind is Behind by name at the deadline; a restarted agent keeps that deadline', async () => {
  const target = stack({
    revision: 2,
    kubernetes: { distribution: 'k3s', version: 'v1.31.5+k3s1' },
    upgradeDeadlineSeconds: 3,
  });
  const s = await site({ allowed: [] });
  let behind: LayerUpgrade | undefined;
  try {
    await s.give(target);
    await eventually('the Plans moved to v1.31.5', async () => {
      const r = await kube.request('GET', `${plansPath}/outpost-k3s-agent`);
      return r.body.spec?.version === 'v1.31.5+k3s1';
    });
    await playController(kube, 'k3s', 'till-2');
    behind = await eventually('Kubernetes Behind', async () =>
      s.layer('kubernetes')?.state === 'Behind' ? s.layer('kubernetes') : undefined,
    );
    assert.deepEqual(behind.behind, ['till-2']);
    assert.match(
      behind.detail,
      /^node till-2 still runs v1\.31\.4\+k3s1 3 s after the upgrade to v1\.31\.5\+k3s1 began/,
    );
  } finally {
    await s.stop();
  }
  const again = await site({ allowed: [], stateDir: s.stateDir });
  try {
    await again.give(target);
    const seen = await eventually('the restarted agent’s view', async () => again.layer('kubernetes'));
    assert.equal(seen.state, 'Behind');
    assert.equal(seen.startedAt, behind.startedAt, 'the deadline counts from the first start');
    // the controller gets there in the end, and the agent sees it on its next look
    await reportKubelet(kube, 'till-2', 'v1.31.5+k3s1');
    await eventually('Kubernetes Conformant', async () => again.layer('kubernetes')?.state === 'Conformant');
  } finally {
    await again.stop();
  }
});

test('a hook through the agent loop: killed halfway it runs again and resumes; a failure is Behind and stops there', async () => {
  const resumable = await hook(
    'os-resumable.sh',
    [
      'if [ "$2" = "6.3" ]; then echo "no space left on /var" >&2; exit 1; fi',
      'if [ -f "$OUTPOST_HOOK_STATE/checkpoint" ]; then echo "progress resumed after $(cat "$OUTPOST_HOOK_STATE/checkpoint")"; exit 0; fi',
      'echo "image written" > "$OUTPOST_HOOK_STATE/checkpoint"',
      'echo $$ > "$OUTPOST_HOOK_STATE/pid"',
      'exec sleep 30',
    ].join('\n'),
  );
  const s = await site({ allowed: [resumable] });
  try {
    await s.give(
      stack({
        revision: 3,
        os: { image: 'SL-Micro', version: '6.2' },
        hooks: { os: { command: [resumable] } },
      }),
    );
    const pid = await eventually('the hook’s pid', async () => {
      const text = await readFile(join(s.stateDir, 'hooks', 'os', 'pid'), 'utf8').catch(() => '');
      return /^\d+\n$/.test(text) && Number(text) > 1 ? Number(text) : undefined;
    });
    process.kill(pid, 'SIGKILL');
    await eventually(
      'the OS Conformant after a second run',
      async () => s.layer('os')?.state === 'Conformant',
    );
    assert.equal(s.layer('os')?.detail, 'the os hook reached 6.2: resumed after image written');
    assert.ok(
      s.shown.some((u) => u[0]?.detail === 'the os hook was killed (SIGKILL)'),
      'the cut run was shown as such',
    );
    assert.deepEqual(
      (await readFile(join(s.stateDir, 'hooks', 'os', 'runs.log'), 'utf8')).trim().split('\n'),
      ['os 6.2', 'os 6.2'],
    );

    // a failing version, with Kubernetes asked for too: the OS is Behind, and Kubernetes never begins
    await s.give(
      stack({
        revision: 4,
        os: { image: 'SL-Micro', version: '6.3' },
        kubernetes: { distribution: 'k3s', version: 'v1.32.0+k3s1' },
        hooks: { os: { command: [resumable] } },
      }),
    );
    await eventually('the OS Behind', async () => s.layer('os')?.state === 'Behind');
    assert.equal(s.layer('os')?.detail, 'the os hook failed with exit 1: no space left on /var');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(s.layer('kubernetes'), undefined);
    assert.equal(
      (await kube.request('GET', plansPath)).body.items.length,
      0,
      'no Plan while the OS is Behind',
    );
    const runs = (await readFile(join(s.stateDir, 'hooks', 'os', 'runs.log'), 'utf8')).trim().split('\n');
    assert.equal(runs.filter((r) => r === 'os 6.3').length, 1, 'a failed version is not run again');
  } finally {
    await s.stop();
  }
});

test('a hook this host does not list is never run: the layer is Behind saying so', async () => {
  const unlisted = await hook('os-unlisted.sh', 'exit 0');
  const s = await site({ allowed: [] });
  try {
    await s.give(
      stack({
        revision: 5,
        os: { image: 'SL-Micro', version: '6.2' },
        hooks: { os: { command: [unlisted] } },
      }),
    );
    const os = await eventually('the OS layer', async () => s.layer('os'));
    assert.equal(os.state, 'Behind');
    assert.equal(
      os.detail,
      `the os hook ${unlisted} is not one this host allows (OUTPOST_HOST_HOOKS): nothing was run`,
    );
    assert.equal(await exists(join(s.stateDir, 'hooks', 'os', 'runs.log')), false);
  } finally {
    await s.stop();
  }
});

test('a target that changes or disappears stops the old one cleanly: the hook is stopped, the Plans withdrawn', async () => {
  const slow = await hook(
    'os-slow.sh',
    [
      'trap \'echo "$2" > "$OUTPOST_HOOK_STATE/terminated"; exit 143\' TERM',
      'while true; do sleep 0.1; done',
    ].join('\n'),
  );
  const s = await site({ allowed: [slow] });
  try {
    const kubernetes = { distribution: 'k3s' as const, version: 'v1.31.6+k3s1' };
    const os = (version: string) =>
      stack({
        revision: 6,
        os: { image: 'SL-Micro', version },
        kubernetes,
        hooks: { os: { command: [slow] } },
      });
    await s.give(stack({ revision: 5, kubernetes }));
    await eventually('the Plans for v1.31.6', async () => {
      const r = await kube.request('GET', `${plansPath}/outpost-k3s-server`);
      return r.body.spec?.version === 'v1.31.6+k3s1';
    });
    // the profile adds an OS layer: it goes first, and the Plans stay for the same Kubernetes
    await s.give(os('7.0'));
    await eventually('the 7.0 hook to run', async () => s.layer('os')?.target === '7.0');
    // a new revision that moves no host layer does not cut the running hook
    await s.give({ ...os('7.0'), revision: 7 });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await exists(join(s.stateDir, 'hooks', 'os', 'terminated')), false);
    // a new version does: the old run is stopped and the new one begins
    await s.give(os('7.1'));
    await eventually(
      'the 7.0 hook stopped',
      async () =>
        (await readFile(join(s.stateDir, 'hooks', 'os', 'terminated'), 'utf8').catch(() => '')).trim() ===
        '7.0',
    );
    await eventually('the 7.1 hook to run', async () => s.layer('os')?.target === '7.1');
    assert.equal(
      (await kube.request('GET', plansPath)).body.items.length,
      2,
      'the Plans from before are there',
    );

    // the profile no longer places the site: nothing is followed, the hook is stopped, the Plans go
    await s.give(undefined);
    await eventually(
      'the 7.1 hook stopped',
      async () =>
        (await readFile(join(s.stateDir, 'hooks', 'os', 'terminated'), 'utf8').catch(() => '')).trim() ===
        '7.1',
    );
    await eventually('no host layer shown', async () => s.layers.upgrades().length === 0);
    await eventually(
      'the Plans withdrawn',
      async () => (await kube.request('GET', plansPath)).body.items.length === 0,
    );
    // the bundles go on as before
    assert.equal((await kube.request('GET', menuPath)).body.data.coffee, '2.50');
  } finally {
    await s.stop();
  }
});
