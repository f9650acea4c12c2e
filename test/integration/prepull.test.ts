// Image pre-pull on a real kube-apiserver, with the test playing the DaemonSet controller (no kubelet
// here): a revision with new images waits while a pre-pull DaemonSet pulls them on every node, reports
// its progress, and switches once all nodes have them, or when the pre-pull deadline passes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../support/eventually.ts';
import { bundleFile, type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kube: KubeFixture;
let fleet: TestHub;
let agent: RunningAgent;

before(async () => {
  kube = await startKube();
  fleet = await startTestHub();
  agent = await startAgent(fleet, kube.kubeconfigPath, { name: 'store-pull', labels: { pull: 'yes' } });
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1);
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
});

const ns = 'scanner';
const dsPath = `/apis/apps/v1/namespaces/${ns}/daemonsets/outpost-prepull-scanner`;
const deployPath = `/apis/apps/v1/namespaces/${ns}/deployments/scanner`;

function revision(image: string, deadlineSeconds: number) {
  return bundleFile(
    'scanner',
    { matchLabels: { pull: 'yes' } },
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'scanner', namespace: ns },
        spec: {
          selector: { matchLabels: { app: 'scanner' } },
          template: {
            metadata: { labels: { app: 'scanner' } },
            spec: {
              imagePullSecrets: [{ name: 'store-registry' }],
              containers: [
                { name: 'scan', image },
                { name: 'log', image: 'fluent-bit:3' },
              ],
            },
          },
        },
      },
    ],
    { apply: { readiness: 'Optimistic', prePull: { enabled: true, deadlineSeconds } } },
  );
}

async function deployment() {
  return (await fleet.api.site('store-pull')).deployments.find((d) => d.bundle === 'scanner');
}

const runningImage = async () =>
  (await kube.request('GET', deployPath)).body.spec.template.spec.containers[0].image;

/** What the DaemonSet controller writes, for `ready` of `nodes` nodes. */
async function daemonSetReports(nodes: number, ready: number) {
  const live = (await kube.request('GET', dsPath)).body;
  const r = await kube.request(
    'PATCH',
    `${dsPath}/status`,
    {
      status: {
        observedGeneration: live.metadata.generation,
        desiredNumberScheduled: nodes,
        currentNumberScheduled: nodes,
        updatedNumberScheduled: nodes,
        numberReady: ready,
        numberMisscheduled: 0,
      },
    },
    'application/merge-patch+json',
  );
  assert.equal(r.status, 200);
}

test('new images are pulled on every node before the switch, with progress reported', async () => {
  await fleet.api.applyBundle(revision('scanner:1', 60));
  await eventually('revision 1 to be Ready', async () => (await deployment())?.state === 'Ready');
  assert.equal(
    (await kube.request('GET', dsPath)).status,
    404,
    'the first revision replaces nothing: no pre-pull',
  );

  await fleet.api.applyBundle(revision('scanner:2', 60));
  const waiting = await eventually('the pre-pull to start', async () => {
    const d = await deployment();
    return d?.desiredRevision === 2 && d.state === 'Applying' ? d : undefined;
  });
  assert.equal(
    waiting.message,
    'pre-pulling 1 new image(s) before switching: waiting for the DaemonSet controller',
  );
  const ds = (await kube.request('GET', dsPath)).body;
  const pod = ds.spec.template.spec;
  assert.deepEqual(
    pod.initContainers.map((c: { image: string; command: string[] }) => [c.image, c.command]),
    [['scanner:2', ['sh', '-c', 'exit 0']]],
    'only the new image, with a no-op command',
  );
  assert.deepEqual(pod.imagePullSecrets, [{ name: 'store-registry' }]);
  assert.equal(await runningImage(), 'scanner:1', 'not switched yet');

  await daemonSetReports(2, 1);
  await eventually(
    'progress to be reported',
    async () =>
      (await deployment())?.message === 'pre-pulling 1 new image(s) before switching: 1 of 2 node(s) done',
  );
  assert.equal(await runningImage(), 'scanner:1');

  await daemonSetReports(2, 2);
  await eventually('the switch', async () => (await runningImage()) === 'scanner:2');
  await eventually('revision 2 to be Ready', async () => (await deployment())?.state === 'Ready');
  await eventually(
    'the pre-pull DaemonSet to be removed',
    async () => (await kube.request('GET', dsPath)).status === 404,
  );
});

test('when the pre-pull deadline passes, the switch happens anyway', async () => {
  await fleet.api.applyBundle(revision('scanner:3', 2));
  await eventually('the pre-pull to start', async () => (await kube.request('GET', dsPath)).status === 200);
  assert.equal(await runningImage(), 'scanner:2');
  await eventually('the switch after the deadline', async () => (await runningImage()) === 'scanner:3', {
    timeoutMs: 10_000,
  });
  await eventually(
    'the pre-pull DaemonSet to be removed',
    async () => (await kube.request('GET', dsPath)).status === 404,
  );
});
