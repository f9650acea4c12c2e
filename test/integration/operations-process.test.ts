// Remote actions and log requests with the agent as a site runs it: `outpost agent` in a process of its
// own against a real kube-apiserver. operations.test.ts covers each operation's detail with the agent in
// the test's process (to play the kubelet for logs); this file shows the shipped command does the same.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { restartedAtAnnotation } from '../../src/agent/site-operations.ts';
import { certificateInfo } from '../../src/pki/certificate.ts';
import { type AgentProcess, startAgentProcess } from '../support/agent-process.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

const site = 'store-proc';
let kube: KubeFixture;
let fleet: TestHub;
let dir: string;
let agent: AgentProcess | undefined;

function start() {
  agent = startAgentProcess(fleet, kube, dir, site, ['--label', 'ops=process']);
  return agent;
}

before(async () => {
  kube = await startKube();
  fleet = await startTestHub();
  dir = await mkdtemp(join(tmpdir(), 'outpost-ops-process-'));
  start();
  await eventually(
    'the site to register',
    async () => (await fleet.api.sites()).some((s) => s.name === site && s.lifecycle === 'Active'),
    { timeoutMs: 60_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${agent?.log()}`);
  });
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function settled(id: string) {
  return eventually(
    `operation ${id} to finish`,
    async () => {
      const op = await fleet.api.operation(id);
      return ['done', 'failed', 'expired', 'cancelled'].includes(op.state) ? op : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

const identityFile = () => join(dir, site, 'identity.json');
const serialOnDisk = async () =>
  certificateInfo(JSON.parse(await readFile(identityFile(), 'utf8')).certPem).serialHex;

describe('operations picked up by an agent process', () => {
  test('restart, a log request and certificate rotation: each performed on the cluster and reported', async () => {
    const till = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'till', namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'till' } },
        template: {
          metadata: { labels: { app: 'till' } },
          spec: { containers: [{ name: 'till', image: 'till:1' }] },
        },
      },
    };
    await fleet.api.applyBundle(bundleFile('till', { matchLabels: { ops: 'process' } }, [till]));
    await eventually(
      'the deployment on the site',
      async () =>
        (await kube.request('GET', '/apis/apps/v1/namespaces/default/deployments/till')).status === 200,
      { timeoutMs: 60_000 },
    );
    const asked = Date.now();
    const restart = await settled(
      (
        await fleet.api.requestAction(site, {
          action: 'restart',
          target: { kind: 'Deployment', namespace: 'default', name: 'till' },
        })
      ).id,
    );
    assert.equal(restart.state, 'done', restart.message ?? '');
    const live = await kube.request('GET', '/apis/apps/v1/namespaces/default/deployments/till');
    const at = live.body.spec.template.metadata.annotations?.[restartedAtAnnotation];
    assert.ok(at && Date.parse(at) >= asked - 1000, `restartedAt ${at} is from now`);

    // no kubelet here: the missing pod's refusal comes back from the real apiserver through the agent
    const logs = await settled((await fleet.api.requestLogs(site, { namespace: 'default', pod: 'gone' })).id);
    assert.equal(logs.state, 'failed');
    assert.match(logs.message ?? '', /pods "gone" not found/);

    const before = await serialOnDisk();
    const rotate = await settled((await fleet.api.requestAction(site, { action: 'rotate-certificate' })).id);
    assert.equal(rotate.state, 'done', rotate.message ?? '');
    const reported = /certificate serial ([0-9a-f]+)/.exec(rotate.message ?? '')?.[1];
    assert.ok(reported && reported !== before, rotate.message ?? '');
    assert.equal(await serialOnDisk(), reported, 'the process keeps the certificate it reported');
  });

  test('an operation queued while the process is down runs when it starts again', async () => {
    await agent!.stop();
    const queued = await fleet.api.requestAction(site, { action: 'drift-check' });
    assert.equal((await fleet.api.operation(queued.id)).state, 'queued');
    start();
    const op = await settled(queued.id);
    assert.equal(op.state, 'done', `${op.message ?? ''}\n${agent!.log()}`);
  });

  test('factory reset: the process wipes its state, joins again as the same site, and keeps running', async () => {
    const before = await serialOnDisk();
    const [record] = await fleet.api.sites();
    const reset = await settled((await fleet.api.requestAction(site, { action: 'factory-reset' })).id);
    assert.equal(reset.state, 'done', reset.message ?? '');
    const after = await eventually(
      'the process to join again',
      async () => {
        const serial = await serialOnDisk().catch(() => undefined);
        return serial && serial !== before ? serial : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.notEqual(after, before);
    assert.equal(agent!.child.exitCode, null, 'the agent process did not exit');
    const sites = await fleet.api.sites();
    assert.deepEqual(
      sites.map((s) => [s.id, s.lifecycle]),
      [[record!.id, 'Active']],
    );
    const next = await settled((await fleet.api.requestAction(site, { action: 'drift-check' })).id);
    assert.equal(next.state, 'done', next.message ?? '');
  });
});
