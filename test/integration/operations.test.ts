// Remote actions and logs on demand end to end: a real hub, a real agent against a real kube-apiserver,
// the operator's CLI. The agent picks each operation up on its poll (the hub never calls in), performs it
// on the cluster and reports; an offline site's operations wait, run when it returns, or expire.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PodLogOptions } from '../../src/agent/apply/cluster.ts';
import { restartedAtAnnotation } from '../../src/agent/site-operations.ts';
import { HubApi } from '../../src/cli/hub-api.ts';
import { logLimits } from '../../src/model/operations.ts';
import { defaultThresholds } from '../../src/model/site.ts';
import { followEvents } from '../../src/net/follow-events.ts';
import { certificateInfo } from '../../src/pki/certificate.ts';
import { runOutpost } from '../support/cli.ts';
import { aroundCluster } from '../support/cluster.ts';
import { eventually } from '../support/eventually.ts';
import {
  bundleFile,
  type RunningAgent,
  startAgent,
  startTestHub,
  type TestHub,
  via,
} from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { type PartitionProxy, startPartitionProxy } from '../support/partition.ts';

let kube: KubeFixture;
let fleet: TestHub;
let proxy: PartitionProxy;
let agent: RunningAgent;
/** what the agent asked of the log API for the pod a test double answers for */
const chattyCalls: PodLogOptions[] = [];
/** the follow sessions the double for `ticker` and `firehose` served: when each was ended */
const followSessions: { pod: string; endedAt?: number }[] = [];
/** 3 MiB of numbered lines, as a chatty container would write */
const chattyLog = Array.from(
  { length: 60_000 },
  (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(41)}\n`,
).join('');

before(async () => {
  kube = await startKube();
  // expiry is swept every second here, not every 10 s
  const connectivity = { ...defaultThresholds, sweepIntervalMs: 1000 };
  fleet = await startTestHub({ connectivity });
  proxy = await startPartitionProxy(fleet.hub.url, fleet.hub.ctx);
  agent = await startAgent(via(fleet, proxy.url), kube.kubeconfigPath, {
    name: 'store-ops',
    labels: { region: 'west', ops: 'yes' },
    watch: false,
    driftCheckMs: 600_000,
    // The test apiserver has no kubelet, so no container log can be read for real (the log API answers
    // with an error, pinned below). For the pod named `chatty` alone this double plays the kubelet, to
    // pin the byte limits end to end; it honours limitBytes the way the kubelet does.
    wrapCluster: (real) =>
      aroundCluster(real, {
        podLogs: async (namespace, pod, opts) => {
          if (pod !== 'chatty') return real.podLogs(namespace, pod, opts);
          chattyCalls.push(opts);
          return chattyLog.slice(0, opts.limitBytes);
        },
        // `ticker` writes a stamped line every 100 ms, `firehose` 16 KiB every 10 ms, while followed
        followPodLogs: (namespace, pod, opts, signal) => {
          if (pod !== 'ticker' && pod !== 'firehose')
            return real.followPodLogs!(namespace, pod, opts, signal);
          const session: { pod: string; endedAt?: number } = { pod };
          followSessions.push(session);
          signal.addEventListener('abort', () => (session.endedAt = Date.now()), { once: true });
          return writing(pod, signal);
        },
      }),
  });
  await eventually('the site to register', async () => (await fleet.api.sites()).length === 1);
});

async function* writing(pod: string, signal: AbortSignal): AsyncIterable<string> {
  for (let n = 1; !signal.aborted; n++) {
    await new Promise((r) => setTimeout(r, pod === 'ticker' ? 100 : 10));
    yield pod === 'ticker' ? `tick ${n} at ${Date.now()}\n` : `${'f'.repeat(16 * 1024 - 1)}\n`;
  }
}

/** Reads a log request's stream until its `end` (or `leaveAfter` chunks, when the viewer leaves). */
async function watchStream(id: string, api = fleet.api, leaveAfter?: number) {
  const { url, headers, ca } = api.logStream(id);
  const stop = new AbortController();
  let text = '';
  let chunks = 0;
  let end: { state: string; message: string | null } | undefined;
  let refused: string | undefined;
  await followEvents(url, {
    headers,
    ca,
    signal: stop.signal,
    onMessage: (m) => {
      if (m.event === 'chunk') {
        text += JSON.parse(m.data) as string;
        if (++chunks === leaveAfter) stop.abort();
      }
      if (m.event === 'end') {
        end = JSON.parse(m.data);
        // after the parser's turn: the stream is over, the reader stops before reconnecting
        setImmediate(() => stop.abort());
      }
    },
    onError: (e) => {
      refused = e.message;
      stop.abort();
    },
  });
  return { text, chunks, end, refused };
}

after(async () => {
  await agent?.stop();
  await proxy?.close();
  await fleet?.stop();
  await kube?.stop();
});

const placement = { matchLabels: { ops: 'yes' } };

async function settled(id: string) {
  return eventually(`operation ${id} to finish`, async () => {
    const op = await fleet.api.operation(id);
    return ['done', 'failed', 'expired', 'cancelled'].includes(op.state) ? op : undefined;
  });
}

async function deployment(bundle: string) {
  return (await fleet.api.site('store-ops')).deployments.find((d) => d.bundle === bundle);
}

describe('remote actions', () => {
  test('restart: the workload gets a new restartedAt on its pod template, audited who and what', async () => {
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
    await fleet.api.applyBundle(bundleFile('till', placement, [till]));
    await eventually('the deployment on the site', async () => {
      return (await kube.request('GET', '/apis/apps/v1/namespaces/default/deployments/till')).status === 200;
    });
    const asked = Date.now();
    const queued = await fleet.api.requestAction('store-ops', {
      action: 'restart',
      target: { kind: 'Deployment', namespace: 'default', name: 'till' },
    });
    assert.equal(queued.state, 'queued');
    const op = await settled(queued.id);
    assert.equal(op.state, 'done', op.message ?? '');
    const live = await kube.request('GET', '/apis/apps/v1/namespaces/default/deployments/till');
    const at = live.body.spec.template.metadata.annotations?.[restartedAtAnnotation];
    assert.ok(at, 'the pod template carries restartedAt');
    assert.ok(Date.parse(at) >= asked - 1000, `restartedAt ${at} is from now`);

    const missing = await settled(
      (
        await fleet.api.requestAction('store-ops', {
          action: 'restart',
          target: { kind: 'StatefulSet', namespace: 'default', name: 'nowhere' },
        })
      ).id,
    );
    assert.equal(missing.state, 'failed');
    assert.match(missing.message ?? '', /no StatefulSet default\/nowhere/);

    const audit = await fleet.api.audit(1000);
    const request = audit.find(
      (e) => e.action === 'site.action.restart' && e.details.operation === queued.id,
    );
    assert.equal(request?.actor, 'token:admin');
    assert.deepEqual(request?.details.target, { kind: 'Deployment', namespace: 'default', name: 'till' });
    assert.ok(audit.some((e) => e.action === 'site.action.done' && e.details.operation === queued.id));
  });

  test('drift-check: a change on the site is found now, not at the periodic check 10 minutes out', async () => {
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'prices', namespace: 'default' },
      data: { a: '1' },
    };
    await fleet.api.applyBundle(bundleFile('prices', placement, [cm]));
    await eventually('prices ready', async () => (await deployment('prices'))?.state === 'Ready');
    const edit = await kube.request(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/prices?fieldManager=kubectl-edit',
      { data: { a: 'tampered' } },
      'application/merge-patch+json',
    );
    assert.equal(edit.status, 200);
    // nothing watches and the periodic check is far out: the edit stays through a heartbeat pass (2 s)
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(
      (await kube.request('GET', '/api/v1/namespaces/default/configmaps/prices')).body.data.a,
      'tampered',
    );

    const op = await settled((await fleet.api.requestAction('store-ops', { action: 'drift-check' })).id);
    assert.equal(op.state, 'done', op.message ?? '');
    assert.match(op.message ?? '', /prices: /);
    const live = await kube.request('GET', '/api/v1/namespaces/default/configmaps/prices');
    assert.equal(live.body.data.a, '1', 'the drift check found the edit and put it back');
  });

  test('reapply: a failed bundle is applied again now, before its backoff is over', async () => {
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'menu', namespace: 'late' },
      data: { a: '1' },
    };
    await fleet.api.applyBundle(bundleFile('menu', placement, [cm]));
    await eventually(
      'menu failed (its namespace is missing)',
      async () => (await deployment('menu'))?.state === 'Failed',
    );
    const failedAt = Date.now();
    const ns = await kube.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'late' },
    });
    assert.equal(ns.status, 201);
    const op = await settled(
      (await fleet.api.requestAction('store-ops', { action: 'reapply', bundle: 'menu' })).id,
    );
    assert.equal(op.state, 'done', op.message ?? '');
    assert.match(op.message ?? '', /menu: (Ready|NotReady)/);
    assert.equal((await kube.request('GET', '/api/v1/namespaces/late/configmaps/menu')).status, 200);
    // the first retry after a refused apply waits at least 10 s; this came well before
    assert.ok(Date.now() - failedAt < 9000, `applied again after ${Date.now() - failedAt} ms`);
  });
});

describe('certificate rotation', () => {
  test('rotate-certificate: the agent renews now, reports the new serial, and keeps working with it', async () => {
    const identityFile = join(agent.stateDir, 'identity.json');
    const before = certificateInfo(JSON.parse(await readFile(identityFile, 'utf8')).certPem);
    const op = await settled(
      (await fleet.api.requestAction('store-ops', { action: 'rotate-certificate' })).id,
    );
    assert.equal(op.state, 'done', op.message ?? '');
    const serial = /certificate serial ([0-9a-f]+), expires (\S+)/.exec(op.message ?? '');
    assert.ok(serial, op.message ?? '');
    assert.notEqual(serial[1], before.serialHex, 'a new certificate');
    const after = certificateInfo(JSON.parse(await readFile(identityFile, 'utf8')).certPem);
    assert.equal(after.serialHex, serial[1], 'the agent keeps the certificate it reported');
    assert.equal(after.notAfter.toISOString(), serial[2]);
    const issued = await fleet.hub.ctx.store.db
      .selectFrom('certificates')
      .select('serial')
      .where('serial', '=', serial[1]!)
      .executeTakeFirst();
    assert.ok(issued, 'the hub issued and recorded it');
    // the next operation reaches the hub over mTLS with the new certificate
    const next = await settled((await fleet.api.requestAction('store-ops', { action: 'drift-check' })).id);
    assert.equal(next.state, 'done', next.message ?? '');
    const audit = await fleet.api.audit(1000);
    assert.ok(
      audit.some((e) => e.action === 'site.action.rotate-certificate' && e.details.operation === op.id),
    );
  });
});

describe('logs on demand', () => {
  test('the real apiserver answers log reads without a kubelet: nothing yet, or its refusal as the outcome', async () => {
    // no kubelet here: a pod is never scheduled, and the apiserver answers its log with No Content
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'till-0', namespace: 'default', labels: { app: 'till' } },
      spec: { containers: [{ name: 'till', image: 'till:1' }] },
    };
    assert.equal((await kube.request('POST', '/api/v1/namespaces/default/pods', pod)).status, 201);
    const direct = await kube.request('GET', '/api/v1/namespaces/default/pods/till-0/log?tailLines=10');
    assert.equal(direct.status, 204, 'an unscheduled pod has no log to serve');
    const one = await settled(
      (
        await fleet.api.requestLogs('store-ops', {
          namespace: 'default',
          pod: 'till-0',
          tailLines: 10,
          sinceSeconds: 600,
        })
      ).id,
    );
    assert.equal(one.state, 'done', one.message ?? '');
    assert.equal(one.bytes, 0);
    assert.match(one.message ?? '', /read 1 of 1 pods, 0 bytes/);

    // the apiserver checks the container before any kubelet is asked
    const container = await settled(
      (await fleet.api.requestLogs('store-ops', { namespace: 'default', pod: 'till-0', container: 'scale' }))
        .id,
    );
    assert.equal(container.state, 'failed');
    assert.match(container.message ?? '', /container scale is not valid for pod till-0/);

    const none = await settled(
      (await fleet.api.requestLogs('store-ops', { namespace: 'default', pod: 'gone' })).id,
    );
    assert.equal(none.state, 'failed');
    assert.match(none.message ?? '', /pods "gone" not found/);

    const bySelector = await settled(
      (await fleet.api.requestLogs('store-ops', { namespace: 'default', selector: 'app=nothing-here' })).id,
    );
    assert.match(bySelector.message ?? '', /no pod in default matches app=nothing-here/);
  });

  test('a chatty container: the hub keeps exactly the byte limit, in chunks, and the CLI prints it', async () => {
    const op = await fleet.api.requestLogs('store-ops', {
      namespace: 'default',
      pod: 'chatty',
      limitBytes: 200_000,
    });
    const done = await settled(op.id);
    assert.equal(done.state, 'done', done.message ?? '');
    assert.equal(done.bytes, 200_000);
    assert.equal(chattyCalls.at(-1)?.limitBytes, 200_000, 'the log API was asked for no more than the limit');
    let text = '';
    let after = 0;
    for (;;) {
      const page = await fleet.api.operationLogs(op.id, after);
      text += page.chunks.map((c) => c.data).join('');
      after = page.lastSeq;
      if (page.done) break;
    }
    assert.equal(text, chattyLog.slice(0, 200_000));
    assert.ok(after >= 4, `uploaded in ${after} chunks of at most 64 KiB`);

    const cli = await runOutpost(fleet, [
      'logs',
      'store-ops',
      '--pod',
      'chatty',
      '--limit-bytes',
      '1000',
      '--tail',
      '5',
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, chattyLog.slice(0, 1000));
    assert.equal(chattyCalls.at(-1)?.tailLines, 5);
    const refused = await runOutpost(fleet, ['logs', 'store-ops', '--pod', 'gone']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /pods "gone" not found/);
  });
});

describe('logs --follow', () => {
  test('lines written after the request started stream through the hub to the CLI until the time limit', async () => {
    const started = Date.now();
    const cli = await runOutpost(fleet, [
      'logs',
      'store-ops',
      '--pod',
      'ticker',
      '--follow',
      '--follow-for',
      '3s',
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const stamps = [...cli.stdout.matchAll(/^tick (\d+) at (\d+)$/gm)];
    assert.ok(stamps.length >= 10, `${stamps.length} lines in a 3 s session`);
    assert.deepEqual(
      stamps.map((m) => Number(m[1])),
      stamps.map((_, i) => i + 1),
      'every line, in order',
    );
    assert.ok(
      stamps.every((m) => Number(m[2]) > started),
      'each line was written after the request',
    );
    assert.match(cli.stderr, /followed ticker: \d+ bytes; ended by the time limit/);
    const session = followSessions.at(-1)!;
    assert.ok(session.endedAt, 'the agent stopped reading the log');
  });

  test('a follow session ends at its byte limit, and its viewer leaving stops the agent', async () => {
    const capped = await fleet.api.requestLogs('store-ops', {
      namespace: 'default',
      pod: 'ticker',
      follow: true,
      limitBytes: 300,
    });
    const seen = await watchStream(capped.id);
    assert.equal(seen.end?.state, 'done', seen.end?.message ?? '');
    assert.match(seen.end?.message ?? '', /ended by the 300-byte limit/);
    assert.equal(Buffer.byteLength(seen.text), 300);
    assert.equal((await fleet.api.operation(capped.id)).bytes, 300);

    const watched = await fleet.api.requestLogs('store-ops', {
      namespace: 'default',
      pod: 'ticker',
      follow: true,
    });
    const left = await watchStream(watched.id, fleet.api, 3);
    assert.equal(left.chunks, 3);
    const leftAt = Date.now();
    const op = await settled(watched.id);
    assert.equal(op.state, 'cancelled');
    const session = await eventually(
      'the agent to stop following',
      async () => followSessions.at(-1)?.endedAt,
    );
    assert.ok(session - leftAt < 3000, `stopped ${session - leftAt} ms after the viewer left`);
    const audit = await fleet.api.audit(1000);
    assert.ok(audit.some((e) => e.action === 'site.logs.cancel' && e.details.operation === watched.id));
  });

  test('the site uplink cap paces a container that writes faster than the store may upload', async () => {
    const op = await fleet.api.requestLogs('store-ops', {
      namespace: 'default',
      pod: 'firehose',
      follow: true,
      followSeconds: 2,
      limitBytes: 8 * 1024 * 1024,
    });
    const seen = await watchStream(op.id);
    assert.equal(seen.end?.state, 'done', seen.end?.message ?? '');
    // the container wrote ~3 MiB in 2 s; at most the cap per second (plus one chunk) came up
    const cap = logLimits.followBytesPerSecond;
    assert.ok(seen.text.length <= cap * 3, `${seen.text.length} bytes in 2 s under a ${cap} B/s cap`);
    assert.ok(seen.text.length >= cap, `${seen.text.length} bytes: the cap paces, it does not stop`);
  });

  test('against the real apiserver: a pod with no node has no log to follow, and the session says so', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'scale-0', namespace: 'default' },
      spec: { containers: [{ name: 'scale', image: 'scale:1' }] },
    };
    assert.equal((await kube.request('POST', '/api/v1/namespaces/default/pods', pod)).status, 201);
    const op = await fleet.api.requestLogs('store-ops', {
      namespace: 'default',
      pod: 'scale-0',
      follow: true,
    });
    const seen = await watchStream(op.id);
    assert.equal(seen.end?.state, 'done', seen.end?.message ?? '');
    assert.match(seen.end?.message ?? '', /followed scale-0: 0 bytes; ended by the container log ended/);
    const gone = await settled(
      (await fleet.api.requestLogs('store-ops', { namespace: 'default', pod: 'gone', follow: true })).id,
    );
    assert.equal(gone.state, 'failed');
    assert.match(gone.message ?? '', /pods "gone" not found/);
    await assert.rejects(
      fleet.api.requestLogs('store-ops', { namespace: 'default', selector: 'app=till', follow: true }),
      { code: 'request_invalid' },
    );
  });
});

describe('an offline site', () => {
  test('operations wait while it is away: run when it returns, expire after their deadline', async () => {
    proxy.cut();
    try {
      const waiting = await fleet.api.requestLogs('store-ops', {
        namespace: 'default',
        pod: 'chatty',
        limitBytes: 100,
        deadlineSeconds: 120,
      });
      const lapsing = await fleet.api.requestAction('store-ops', {
        action: 'drift-check',
        deadlineSeconds: 10,
      });
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await fleet.api.operation(waiting.id)).state, 'queued');
      const expired = await eventually(
        'the short deadline to pass',
        async () => {
          const op = await fleet.api.operation(lapsing.id);
          return op.state === 'expired' ? op : undefined;
        },
        { timeoutMs: 20_000 },
      );
      assert.match(expired.message ?? '', /did not pick it up before its deadline/);
      assert.equal((await fleet.api.operation(waiting.id)).state, 'queued');
      proxy.heal();
      const answered = await settled(waiting.id);
      assert.equal(answered.state, 'done', answered.message ?? '');
      assert.equal(answered.bytes, 100);
      assert.equal(
        (await fleet.api.operation(lapsing.id)).state,
        'expired',
        'an expired action is never run late',
      );
    } finally {
      proxy.heal();
    }
  });
});

describe('credentials', () => {
  test('a token for another region is refused and learns nothing; a wrong token is unauthorized', async () => {
    const { token: east } = await fleet.api.createApiToken('east-ops', 'operator', [
      { role: 'operator', sites: { matchLabels: { region: 'east' } } },
    ]);
    const eastApi = new HubApi(fleet.hub.url, east, fleet.hub.caPem);
    const { token: eastAdmin } = await fleet.api.createApiToken('east-admin', 'admin', [
      { role: 'admin', sites: { matchLabels: { region: 'east' } } },
    ]);
    const eastAdminApi = new HubApi(fleet.hub.url, eastAdmin, fleet.hub.caPem);
    const wrongApi = new HubApi(
      fleet.hub.url,
      'oat_00000000-0000-7000-8000-000000000000.wrongsecretwrongsecret',
      fleet.hub.caPem,
    );
    try {
      const count = (await fleet.api.siteOperations('store-ops')).length;
      await assert.rejects(eastApi.requestAction('store-ops', { action: 'drift-check' }), {
        code: 'forbidden',
      });
      await assert.rejects(eastApi.requestLogs('store-ops', { namespace: 'default', pod: 'chatty' }), {
        code: 'forbidden',
      });
      await assert.rejects(eastApi.siteOperations('store-ops'), { code: 'forbidden' });
      for (const action of ['rotate-certificate', 'factory-reset'] as const) {
        await assert.rejects(eastApi.requestAction('store-ops', { action }), { code: 'forbidden' });
        await assert.rejects(eastAdminApi.requestAction('store-ops', { action }), { code: 'forbidden' });
      }
      await assert.rejects(
        eastApi.requestLogs('store-ops', { namespace: 'default', pod: 'ticker', follow: true }),
        { code: 'forbidden' },
      );
      const [latest] = await fleet.api.siteOperations('store-ops');
      await assert.rejects(eastApi.operationLogs(latest!.id), (e: Error & { code: string }) => {
        assert.equal(e.code, 'forbidden');
        assert.ok(!e.message.includes('store-ops'), e.message);
        return true;
      });
      await assert.rejects(wrongApi.requestAction('store-ops', { action: 'drift-check' }), {
        code: 'unauthorized',
      });
      await assert.rejects(wrongApi.operation(latest!.id), { code: 'unauthorized' });
      const east = await watchStream(latest!.id, eastApi);
      assert.match(east.refused ?? '', /HTTP 403/);
      assert.equal(east.text, '');
      const wrong = await watchStream(latest!.id, wrongApi);
      assert.match(wrong.refused ?? '', /HTTP 401/);
      assert.equal((await fleet.api.siteOperations('store-ops')).length, count, 'nothing was queued');
    } finally {
      eastApi.close();
      eastAdminApi.close();
      wrongApi.close();
    }
  });
});

describe('factory reset', () => {
  test('admin only: the agent wipes its state and joins again as the same site; its workloads stay', async () => {
    const { token: operator } = await fleet.api.createApiToken('fleet-operator', 'operator');
    const operatorApi = new HubApi(fleet.hub.url, operator, fleet.hub.caPem);
    try {
      await assert.rejects(operatorApi.requestAction('store-ops', { action: 'factory-reset' }), {
        code: 'forbidden',
      });
    } finally {
      operatorApi.close();
    }
    const identityFile = join(agent.stateDir, 'identity.json');
    const sealingKeyFile = join(agent.stateDir, 'sealing-key.json');
    const oldSerial = certificateInfo(JSON.parse(await readFile(identityFile, 'utf8')).certPem).serialHex;
    const oldSealingKey = await readFile(sealingKeyFile, 'utf8');
    const site = await fleet.api.site('store-ops');

    const op = await settled((await fleet.api.requestAction('store-ops', { action: 'factory-reset' })).id);
    assert.equal(op.state, 'done', op.message ?? '');
    const newSerial = await eventually('the agent to join again', async () => {
      const saved = await readFile(identityFile, 'utf8').catch(() => undefined);
      const serial = saved && certificateInfo(JSON.parse(saved).certPem).serialHex;
      return serial && serial !== oldSerial ? serial : undefined;
    });
    assert.notEqual(
      await readFile(sealingKeyFile, 'utf8').catch(() => ''),
      oldSealingKey,
      'a new sealing key',
    );
    assert.equal(
      (await kube.request('GET', '/api/v1/namespaces/default/configmaps/prices')).status,
      200,
      'what ran in the cluster stays',
    );
    const certificates = await fleet.hub.ctx.store.db
      .selectFrom('certificates')
      .select(['serial', 'revoked_at'])
      .where('serial', 'in', [oldSerial, newSerial])
      .execute();
    assert.ok(certificates.find((c) => c.serial === oldSerial)?.revoked_at, 'the old certificate is revoked');
    assert.equal(certificates.find((c) => c.serial === newSerial)?.revoked_at, null);
    const sites = await fleet.api.sites();
    assert.deepEqual(
      sites.map((s) => [s.id, s.name, s.lifecycle]),
      [[site.id, 'store-ops', 'Active']],
      'the same site record, not a second one',
    );
    await eventually('prices ready again', async () => (await deployment('prices'))?.state === 'Ready');
    const next = await settled((await fleet.api.requestAction('store-ops', { action: 'drift-check' })).id);
    assert.equal(next.state, 'done', next.message ?? '');
    const audit = await fleet.api.audit(1000);
    const asked = audit.find(
      (e) => e.action === 'site.action.factory-reset' && e.details.operation === op.id,
    );
    assert.equal(asked?.actor, 'token:admin');
    assert.ok(audit.some((e) => e.action === 'site.register' && e.id > asked!.id));
  });
});
