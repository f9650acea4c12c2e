// spec.telemetry from the operator to the site on real parts: a bundle applied to a hub on SQLite names a
// workload's Prometheus endpoint; the agent gets it in the rendered bundle, scrapes it, derives the golden
// signals and shows them with the Kubernetes events of the bundle's namespace on its local page.
// Then the same telemetry end to end: the agent's sender delivers it over mTLS to the hub's telemetry
// route, where the site's SLIs and the forwarded Kubernetes event can be read back through the API.

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
  // an SLI sample for the bundle means its target was scraped at least once (the baseline); batches
  // sent say nothing about that, since the agent's own metrics go up too
  await eventually('the scraper to have a baseline', async () => {
    const st = await localStatus();
    return st.telemetry?.slis.some((x) => x.bundle === 'tele') ? st : undefined;
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

test('the agent delivers its SLIs and events to the hub, where the operator API reads them back', async () => {
  // the previous test put 42 requests, 2 of them errors, and one event through the agent
  const slis = await eventually(
    'the site’s SLIs at the hub',
    async () => {
      const r = await fleet.api.siteSlis('store-t');
      const sum = (name: string) =>
        r.series
          .filter((s) => s.bundle === 'tele' && s.name === name)
          .flatMap((s) => s.points)
          .reduce((n, [, v]) => n + v, 0);
      return sum('requests_total') >= 42
        ? { requests: sum('requests_total'), errors: sum('errors_total') }
        : undefined;
    },
    { timeoutMs: 30_000 },
  );
  assert.deepEqual(slis, { requests: 42, errors: 2 });
  const events = await eventually('the forwarded event at the hub', async () => {
    const page = await fleet.api.events({ site: 'store-t', type: 'site_event' });
    const found = page.items.filter((e) => e.message.includes('looked at the settings'));
    return found.length > 0 ? found : undefined;
  });
  assert.equal(events.length, 1, 'forwarded once');
  assert.equal(events[0]!.bundle, 'tele');
  // nothing was resent: the agent's cursor moved on every acknowledged batch
  const st = await localStatus();
  assert.equal(st.telemetry!.sender.lastError ?? null, null);
});
