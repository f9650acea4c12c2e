// spec.telemetry from the operator to the site on real parts: a bundle applied to a hub on SQLite names a
// workload's Prometheus endpoint; the agent gets it in the rendered bundle, scrapes it, derives the golden
// signals and shows them with the Kubernetes events of the bundle's namespace on its local page.
// (Delivery to the hub's telemetry route is tested where that route is built; see telemetry-collect.)

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import type { LocalStatus } from '../../src/agent/local-page.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kube: KubeFixture;
let fleet: TestHub;
let agent: RunningAgent;
let workload: http.Server;
const registry = new Registry();
const requests = new Counter({
  name: 'http_requests_total',
  help: 'Requests by code.',
  labelNames: ['code'],
  registers: [registry],
});

before(async () => {
  workload = http.createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  });
  await new Promise<void>((resolve) => workload.listen(0, '127.0.0.1', resolve));
  kube = await startKube();
  fleet = await startTestHub();
  agent = await startAgent(fleet, kube.kubeconfigPath, {
    name: 'store-t',
    labels: { region: 'west' },
    telemetry: { flushMs: 200 },
  });
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
  await new Promise((r) => workload?.close(r));
});

async function localStatus(): Promise<LocalStatus> {
  const res = await fetch(`${agent.agent.localPageUrl}/status.json`);
  return (await res.json()) as LocalStatus;
}

test('a bundle’s spec.telemetry reaches the agent, which shows its SLIs and events on the local page', async () => {
  const port = (workload.address() as { port: number }).port;
  const ns = 'tele-app';
  requests.inc({ code: '200' }, 5);
  const applied = await fleet.api.applyBundle(
    bundleFile(
      'tele',
      { matchLabels: { region: 'west' } },
      [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'settings', namespace: ns },
          data: { a: '1' },
        },
      ],
      {
        telemetry: {
          intervalSeconds: 5,
          targets: [`http://127.0.0.1:${port}/metrics`],
          slis: {
            requests: { metric: 'http_requests_total' },
            errors: { metric: 'http_requests_total', match: { code: '5..' } },
          },
        },
      },
    ),
  );
  assert.ok(applied);
  // the first scrape is the baseline; traffic after it shows in the next interval
  await eventually(
    'the first scrape',
    async () =>
      (await localStatus()).telemetry?.sender !== undefined && agent.agent.status().deployments.length > 0,
  );
  await eventually('the scraper to have a baseline', async () => {
    const st = await localStatus();
    return st.telemetry!.buffer.classes.debug.records + st.telemetry!.sender.batchesSent > 0 ? st : undefined;
  });
  requests.inc({ code: '200' }, 40);
  requests.inc({ code: '503' }, 2);
  const now = new Date().toISOString();
  const ev = await kube.request('POST', `/api/v1/namespaces/${ns}/events`, {
    metadata: { name: 'settings.1', namespace: ns },
    involvedObject: { kind: 'ConfigMap', namespace: ns, name: 'settings' },
    reason: 'Checked',
    message: 'looked at the settings',
    type: 'Normal',
    firstTimestamp: now,
    lastTimestamp: now,
  });
  assert.equal(ev.status, 201);

  const st = await eventually(
    'SLIs and the event on the local page',
    async () => {
      const s = await localStatus();
      const slis = s.telemetry?.slis.filter((x) => x.bundle === 'tele') ?? [];
      const sum = (name: string) => slis.filter((x) => x.name === name).reduce((n, x) => n + x.v, 0);
      return sum('requests_total') > 0 && s.telemetry?.events.some((e) => e.reason === 'Checked')
        ? s
        : undefined;
    },
    { timeoutMs: 30_000 },
  );
  const slis = Object.fromEntries(
    st.telemetry!.slis.filter((x) => x.bundle === 'tele').map((x) => [x.name, x.v]),
  );
  assert.equal(slis.requests_total, 42);
  assert.equal(slis.errors_total, 2);
  assert.deepEqual(
    st.telemetry!.events.find((e) => e.reason === 'Checked')!.bundle,
    'tele',
    'the event is attributed to the bundle owning the namespace',
  );
  assert.deepEqual(
    st.telemetry!.buffer.dropped,
    { sli: 0, event: 0, metric: 0, debug: 0 },
    JSON.stringify(st.telemetry!.buffer.problems),
  );
  const html = await (await fetch(`${agent.agent.localPageUrl}/`)).text();
  assert.match(html, /<td>tele<\/td><td>42<\/td><td>2<\/td>/);
});
