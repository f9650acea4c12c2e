// Agent self-upgrade of an in-cluster install, with real agent processes built from this tree (0.1.0,
// 0.2.0, 0.3.0 by scripts/build-release.sh) against the fixture kube-apiserver. There is no kubelet here,
// so the test plays the part Kubernetes plays in a rolling update of the agent's Deployment (maxSurge 1,
// maxUnavailable 0): it runs a pod (a process, as its container would run, on the service account's
// token) for the image the Deployment asks for, and stops a pod of another image once the wanted pod's
// readiness probe (/readyz) passes, or at once if the old pod is not ready. The pods share one state
// folder, as they share the volume.
// 0.1.0 → 0.2.0 hands over and is retired; 0.3.0 (its hub client broken) takes over but never gets ready
// and is reverted by 0.2.0, which puts its own image back and runs the site again; 0.4.0, whose pod
// crashes at once over and over, never asks to take over and is reverted at its deadline as well.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { clusterInstallObjects } from '../../src/agent/install/core/cluster-manifest.ts';
import { agentNodeFlags } from '../../src/agent/install/core/node-flags.ts';
import { KubeCluster } from '../../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../../src/agent/kube/config.ts';
import { agentBundleName } from '../../src/model/agent-release.ts';
import type { DeploymentView } from '../../src/model/wire.ts';
import { generateReleaseKey } from '../../src/pki/release-key.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { type BuiltRelease, builtRelease } from '../support/releases.ts';

const exec = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'src', 'cli', 'main.ts');
const ns = 'outpost-system';
const deploymentPath = `/apis/apps/v1/namespaces/${ns}/deployments/outpost-agent`;
const key = generateReleaseKey();
const image = (v: string) => `registry.example/outpost-agent:${v}`;
let kube: KubeFixture;
let fleet: TestHub;
let work: string;
let releases: Record<string, BuiltRelease>;
let kubelet: Kubelet | undefined;
let passed = false;

interface Pod {
  image: string;
  process: ChildProcess;
  log: string;
}

/** What Kubernetes does with the agent's Deployment here: one pod per image asked for, old ones retired. */
class Kubelet {
  readonly pods = new Map<string, Pod>();
  #stopped = false;
  #loop: Promise<void>;
  #started = 0;
  readonly run: (image: string, log: string) => ChildProcess;
  readonly template: () => Promise<string>;

  constructor(run: (image: string, log: string) => ChildProcess, template: () => Promise<string>) {
    this.run = run;
    this.template = template;
    this.#loop = this.#reconcile();
  }

  async #reconcile(): Promise<void> {
    while (!this.#stopped) {
      try {
        const wanted = await this.template();
        for (const [img, pod] of this.pods) if (pod.process.exitCode !== null) this.pods.delete(img); // restartPolicy: Always
        if (!this.pods.has(wanted)) {
          const log = join(work, `pod-${++this.#started}.log`);
          this.pods.set(wanted, { image: wanted, process: this.run(wanted, log), log });
        }
        // maxUnavailable 0: a ready pod of another image goes only once the wanted one is ready, but
        // one that is not ready is no loss and goes at once (the Deployment controller's clean-up of
        // unhealthy old replicas, which is what removes the new pod when an upgrade is put back)
        const wantedReady = await ready(this.pods.get(wanted)!);
        for (const [img, pod] of this.pods) {
          if (img === wanted || (!wantedReady && (await ready(pod)))) continue;
          pod.process.kill('SIGTERM');
          await new Promise((r) => (pod.process.exitCode === null ? pod.process.once('exit', r) : r(null)));
          this.pods.delete(img);
        }
      } catch {
        // the API server or a probe not answering: try again next tick
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    for (const pod of this.pods.values()) {
      pod.process.kill('SIGTERM');
      if (pod.process.exitCode === null) await new Promise((r) => pod.process.once('exit', r));
    }
  }
}

/** The readiness probe: the pod's local page /readyz. */
async function ready(pod: Pod): Promise<boolean> {
  const url = /local status page url=(\S+)/.exec(await readFile(pod.log, 'utf8').catch(() => ''))?.[1];
  if (!url) return false;
  return (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'outpost-cluster-upgrade-'));
  const built = await Promise.all(['0.1.0', '0.2.0', '0.3.0'].map((v) => builtRelease(v)));
  releases = Object.fromEntries(built.map((r) => [r.version, r]));
  [kube, fleet] = await Promise.all([
    startKube(),
    startTestHub({ releases: { publicKey: key.publicKey }, rollouts: { tickIntervalMs: 500 } }),
  ]);
  await writeFile(join(work, 'release.key'), key.privateKeyPem, { mode: 0o600 });
});

after(async () => {
  await kubelet?.stop();
  if (!passed) {
    for (let i = 1; ; i++) {
      const log = await readFile(join(work, `pod-${i}.log`), 'utf8').catch(() => undefined);
      if (log === undefined) break;
      process.stderr.write(`--- pod ${i} (last 40 lines) ---\n${log.split('\n').slice(-40).join('\n')}\n`);
    }
  }
  await fleet?.stop();
  await kube?.stop();
  await rm(work, { recursive: true, force: true });
});

async function outpost(...args: string[]): Promise<string> {
  const caFile = join(work, 'hub-ca.crt');
  await writeFile(caFile, fleet.hub.caPem);
  const { stdout } = await exec(process.execPath, [cli, ...args], {
    env: {
      ...process.env,
      OUTPOST_HUB: fleet.hub.url,
      OUTPOST_TOKEN: fleet.adminToken,
      OUTPOST_CA_FILE: caFile,
    },
  });
  return stdout;
}

async function agentDeployment(): Promise<DeploymentView | undefined> {
  const site = await fleet.api.site('store-9').catch(() => undefined);
  return site?.deployments.find((d) => d.bundle === agentBundleName);
}

test('an in-cluster agent upgrades by its own Deployment, hands over to a ready pod, and takes back from one that is not', {
  timeout: 900_000,
}, async () => {
  const admin = new KubeCluster(kubeConfigFromFile(kube.kubeconfigPath));
  try {
    for (const o of clusterInstallObjects({
      joinToken: fleet.joinToken,
      image: image('0.1.0'),
      name: 'store-9',
      storage: 'pvc',
    }))
      await admin.apply(o, { fieldManager: 'kubectl', force: true });
  } finally {
    admin.close();
  }
  const token = await kube.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts/outpost-agent/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  const serviceAccount = join(work, 'serviceaccount');
  await mkdir(serviceAccount);
  await writeFile(join(serviceAccount, 'token'), token.body.status.token);
  await writeFile(join(serviceAccount, 'ca.crt'), kube.ca);
  const volume = join(work, 'state');
  // 0.3.0 as a bad build: the release's own agent, with every HTTPS request failing, so it takes the
  // state folder over but never reaches the hub (nor the API server)
  const broken = join(work, 'broken-0.3.0.mjs');
  await writeFile(
    broken,
    `import https from 'node:https';\nhttps.request = () => { throw new Error('this build cannot speak HTTPS'); };\nconst { main } = await import(${JSON.stringify(join(releases['0.3.0']!.folder, 'app', 'outpost.mjs'))});\nprocess.exitCode = await main(process.argv);\n`,
  );
  const crashing = join(work, 'crashing-0.4.0.mjs');
  await writeFile(crashing, 'process.exit(3);\n');
  const { KUBECONFIG: _kubeconfig, ...env } = process.env;
  const server = new URL(kube.server);
  kubelet = new Kubelet(
    (podImage, log) => {
      const version = podImage.split(':').pop()!;
      // 0.4.0's container exits as soon as it starts
      const release = releases[version] ?? releases['0.2.0']!;
      const entry =
        version === '0.3.0'
          ? broken
          : version === '0.4.0'
            ? crashing
            : join(release.folder, 'app', 'outpost.mjs');
      const args = ['agent', '--state-dir', volume, '--local-page', '127.0.0.1:0'];
      return spawn(join(release.folder, 'node', 'bin', 'node'), [...agentNodeFlags, entry, ...args], {
        env: {
          ...env,
          HOME: work,
          KUBERNETES_SERVICE_HOST: server.hostname,
          KUBERNETES_SERVICE_PORT: server.port,
          OUTPOST_SERVICE_ACCOUNT_DIR: serviceAccount,
          OUTPOST_JOIN_TOKEN: fleet.joinToken,
          OUTPOST_SITE: 'store-9',
          OUTPOST_POD_NAMESPACE: ns,
          OUTPOST_POD_NAME: `outpost-agent-${version}`,
          OUTPOST_AGENT_WORKLOAD: 'outpost-agent',
        },
        stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
      });
    },
    async () => (await kube.request('GET', deploymentPath)).body.spec.template.spec.containers[0].image,
  );
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1, {
    timeoutMs: 60_000,
  });
  await fleet.api.applyBundle(
    bundleFile('shop', {}, [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'till', namespace: 'default' },
        data: { lane: '1' },
      },
    ]),
  );
  await eventually(
    'the workload to be Ready',
    async () =>
      (await fleet.api.site('store-9')).deployments.some((d) => d.bundle === 'shop' && d.state === 'Ready'),
    { timeoutMs: 60_000 },
  );
  const workloadBefore = (await kube.request('GET', '/api/v1/namespaces/default/configmaps/till')).body
    .metadata;

  for (const v of ['0.1.0', '0.2.0', '0.3.0'])
    await outpost(
      'agent',
      'release',
      'push',
      releases[v]!.tarball,
      '--key',
      join(work, 'release.key'),
      '--image',
      image(v),
    );
  const strategy = join(work, 'all-at-once.yaml');
  await writeFile(strategy, 'waves: [{name: all, percent: 100}]\nbakeSeconds: 0\n');
  await outpost(
    'agent',
    'upgrade',
    '--version',
    '0.2.0',
    '--from-version',
    '0.1.0',
    '--strategy',
    strategy,
    '--deadline',
    '120',
  );

  await eventually(
    'agent 0.2.0 to run the site, the 0.1.0 pod retired',
    async () => {
      const d = await agentDeployment();
      return (
        d?.state === 'Ready' &&
        d.message === 'agent 0.2.0 running' &&
        [...kubelet!.pods.keys()].join() === image('0.2.0')
      );
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  const deployment = (await kube.request('GET', deploymentPath)).body;
  assert.equal(deployment.spec.template.spec.containers[0].image, image('0.2.0'));
  assert.ok(
    deployment.metadata.managedFields.some((f: { manager: string }) => f.manager === 'outpost-agent-upgrade'),
    'the agent set the image itself',
  );
  const firstLog = await readFile(join(work, 'pod-1.log'), 'utf8');
  assert.match(firstLog, /handing the state directory over to the new agent version=0.2.0/);

  await outpost('agent', 'upgrade', '--version', '0.3.0', '--strategy', strategy, '--deadline', '15');
  const reverted = await eventually(
    'the upgrade to 0.3.0 to be reverted',
    async () => {
      const d = await agentDeployment();
      return d?.state === 'Failed' && d.desiredRevision === 3 ? d : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  assert.equal(reverted.message, 'agent upgrade to 0.3.0 reverted: not ready within 15s; running 0.2.0');
  assert.equal(
    (await kube.request('GET', deploymentPath)).body.spec.template.spec.containers[0].image,
    image('0.2.0'),
  );
  await eventually(
    'the 0.3.0 pod to be gone',
    async () => [...kubelet!.pods.keys()].join() === image('0.2.0'),
  );
  const logs = await Promise.all([2, 3].map((i) => readFile(join(work, `pod-${i}.log`), 'utf8')));
  assert.match(logs[0]!, /handing the state directory over to the new agent version=0.3.0/);
  assert.match(logs[0]!, /agent upgrade reverted: the previous image is back/);
  assert.match(logs[1]!, /waiting for it to hand over/, 'the 0.3.0 pod waited for the state folder');

  const crashingRelease = join(work, 'outpost-0.4.0-linux-x64.tar.gz');
  await writeFile(crashingRelease, 'an in-cluster site runs the image; the tarball is for hosts');
  await outpost(
    'agent',
    'release',
    'push',
    crashingRelease,
    '--key',
    join(work, 'release.key'),
    '--image',
    image('0.4.0'),
  );
  // the 0.3.0 rollout paused on its failed site (the default on failure); the next upgrade replaces it
  await eventually(
    'the 0.3.0 rollout to pause',
    async () => (await fleet.api.events({ type: 'rollout_paused' })).items.length === 1,
  );
  const superseding = join(work, 'all-at-once-superseding.yaml');
  await writeFile(superseding, 'waves: [{name: all, percent: 100}]\nbakeSeconds: 0\nsupersede: true\n');
  await outpost('agent', 'upgrade', '--version', '0.4.0', '--strategy', superseding, '--deadline', '10');
  const gaveUp = await eventually(
    'the upgrade to 0.4.0 to be reverted',
    async () => {
      const d = await agentDeployment();
      return d?.state === 'Failed' && d.desiredRevision === 4 ? d : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  assert.equal(
    gaveUp.message,
    'agent upgrade to 0.4.0 reverted: its pod never asked to take over; running 0.2.0',
  );
  assert.equal(
    (await kube.request('GET', deploymentPath)).body.spec.template.spec.containers[0].image,
    image('0.2.0'),
  );
  const events = await fleet.api.events({ type: 'agent_upgrade_reverted' });
  assert.equal(events.items.length, 2);
  const workloadAfter = (await kube.request('GET', '/api/v1/namespaces/default/configmaps/till')).body
    .metadata;
  assert.equal(
    workloadAfter.resourceVersion,
    workloadBefore.resourceVersion,
    'the workload was never touched',
  );
  passed = true;
});
