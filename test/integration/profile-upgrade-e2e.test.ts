// A profile upgrade end to end with every part real: a hub, `outpost agent` as a site runs it (its own
// process, the host's allowed hooks from OUTPOST_HOST_HOOKS) and a kube-apiserver with the Plan CRD on which
// the test plays system-upgrade-controller. A profile applied at the hub reaches the agent, which runs the
// OS hook, then applies the Plans; the hub's conformance for the site goes Upgrading, then Conformant.

import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type AgentProcess, startAgentProcess } from '../support/agent-process.ts';
import { eventually } from '../support/eventually.ts';
import { startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import {
  createNode,
  installUpgradeController,
  plansPath,
  playController,
  reportKubelet,
} from '../support/upgrade-controller.ts';

let kube: KubeFixture;
let fleet: TestHub;
let dir: string;
let agent: AgentProcess | undefined;
let osHook: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outpost-profile-e2e-'));
  [kube, fleet] = await Promise.all([startKube(), startTestHub()]);
  await installUpgradeController(kube);
  await createNode(kube, 'server', true);
  await createNode(kube, 'till-1', false);
  for (const n of ['server', 'till-1']) await reportKubelet(kube, n, 'v1.30.6+k3s1');
  osHook = join(dir, 'os-upgrade.sh');
  await writeFile(
    osHook,
    '#!/bin/sh\necho "$1 $2" >> "$OUTPOST_HOOK_STATE/runs.log"\necho "progress already on $2"\nexit 0\n',
  );
  await chmod(osHook, 0o755);
  agent = startAgentProcess(fleet, kube, dir, 'store-e2e', ['--label', 'region=west'], {
    env: { OUTPOST_HOST_HOOKS: osHook },
  });
  await eventually('the site to register', async () =>
    (await fleet.api.sites()).find((s) => s.name === 'store-e2e'),
  );
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
  await rm(dir, { recursive: true, force: true });
});

const profile = (version: string) => ({
  files: [
    {
      path: 'profiles/stores.yaml',
      content: `apiVersion: outpost.dev/v1
kind: Profile
metadata: {name: stores}
spec:
  placement:
    selector: {matchLabels: {region: west}}
  kubernetes: {distribution: k3s, version: ${version}}
  os: {image: Ubuntu, version: "24.04"}
  hooks:
    os: {command: [${osHook}]}
  upgradeDeadlineSeconds: 600
`,
    },
  ],
});

const conformance = async () => (await fleet.api.siteStack('store-e2e')).conformance;

test('a profile applied at the hub reaches the agent, which runs the OS hook, then the Plans; the hub sees Upgrading, then Conformant', {
  timeout: 240_000,
}, async () => {
  await fleet.api.applyProfiles(profile('v1.31.4+k3s1'));
  await eventually(
    'the agent to apply the Plans',
    async () => (await kube.request('GET', plansPath)).body.items.length === 2,
    { timeoutMs: 60_000 },
  );
  assert.equal(
    (await readFile(join(dir, 'store-e2e', 'hooks', 'os', 'runs.log'), 'utf8')).trim(),
    'os 24.04',
    'the OS hook ran first, once',
  );
  const upgrading = await eventually('the hub to see the site Upgrading', async () => {
    const c = await conformance();
    return c?.state === 'Upgrading' ? c : undefined;
  });
  assert.deepEqual(upgrading.layers.find((l) => l.layer === 'kubernetes')?.behind.sort(), [
    'server',
    'till-1',
  ]);
  const reported = await eventually('the agent’s progress at the hub', async () => {
    const s = (await fleet.api.siteStack('store-e2e')).stack;
    return s?.upgrades?.length === 2 ? s.upgrades : undefined;
  });
  assert.deepEqual(
    reported.map((u) => `${u.layer} ${u.state}`),
    ['os Conformant', 'kubernetes Upgrading'],
  );
  await playController(kube, 'k3s');
  await eventually(
    'the hub to see the site Conformant',
    async () => (await conformance())?.state === 'Conformant',
    {
      timeoutMs: 90_000,
    },
  );
});
