// Site telemetry end to end at the site: a real workload exposing Prometheus text (prom-client), real
// Kubernetes events in a real kube-apiserver, the disk buffer, the local page while the hub is out of
// reach, and delivery to an mTLS receiver once it is back. Our exposition parser is checked against
// Prometheus' own on the workload's real output.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { KubeCluster } from '../../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../../src/agent/kube/config.ts';
import { renderLocalPage } from '../../src/agent/local-page.ts';
import { parsePrometheusText as parseOurs } from '../../src/agent/telemetry/core/prometheus-text.ts';
import { SiteTelemetry } from '../../src/agent/telemetry/site-telemetry.ts';
import { telemetryBundleOf } from '../../src/agent/telemetry/source.ts';
import type { TelemetryEvent, TelemetrySample } from '../../src/model/telemetry.ts';
import { parseTelemetrySpec } from '../../src/model/telemetry-spec.ts';
import { eventually } from '../support/eventually.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { parsePrometheusText as parseTheirs } from '../support/prometheus.ts';
import { telemetryReceiver } from '../support/telemetry-receiver.ts';

let kube: KubeFixture;
let cluster: KubeCluster;

before(async () => {
  kube = await startKube();
  cluster = new KubeCluster(kubeConfigFromFile(kube.kubeconfigPath));
});

after(async () => {
  cluster?.close();
  await kube?.stop();
});

/** A workload with the usual RED metrics, served on loopback. */
async function workload() {
  const registry = new Registry();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests by status code.',
    labelNames: ['code', 'path'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Request latency.',
    buckets: [0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const queue = new Gauge({ name: 'till_queue_depth', help: 'Customers waiting.', registers: [registry] });
  const server = http.createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
  return {
    url,
    registry,
    serve(n: number, code: string, seconds: number) {
      for (let i = 0; i < n; i++) {
        requests.inc({ code, path: '/pay "quoted" \\ path' });
        latency.observe(seconds);
      }
    },
    queue,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('our exposition parser reads a real workload exactly as Prometheus does', async () => {
  const w = await workload();
  try {
    w.serve(3, '200', 0.07);
    w.serve(1, '503', 2);
    w.queue.set(4);
    const text = await w.registry.metrics();
    const ours = parseOurs(text)
      .samples.map((s) => JSON.stringify([s.name, Object.entries(s.labels).sort(), s.value]))
      .sort();
    const theirs = (await parseTheirs(text))
      .filter((s) => s.type !== 'histogram' && s.type !== 'summary')
      .map((s) => JSON.stringify([s.name, Object.entries(s.labels).sort(), s.value]))
      .sort();
    // Prometheus' parser reports histograms as families; compare every flat series and the bucket count
    for (const line of theirs) assert.ok(ours.includes(line), `missing ${line}`);
    assert.equal(
      parseOurs(text).samples.filter((s) => s.name === 'http_request_duration_seconds_bucket').length,
      5,
    );
  } finally {
    await w.close();
  }
});

test('SLIs and events are collected while the hub is unreachable, shown on the local page, and delivered once it is back', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-site-telemetry-'));
  const w = await workload();
  const hub = await telemetryReceiver();
  hub.down = true;
  const ns = `tele-${Date.now()}`;
  await kube.request('POST', '/api/v1/namespaces', { metadata: { name: ns } });
  const abort = new AbortController();
  const telemetry = await SiteTelemetry.open({
    dir,
    uplink: { send: (gz, signal) => hub.client.telemetry(gz, signal) },
    flushMs: 200,
    selfMetricsMs: 500,
    cluster,
  });
  const spec = parseTelemetrySpec({
    intervalSeconds: 5,
    targets: [w.url],
    slis: {
      requests: { metric: 'http_requests_total' },
      errors: { metric: 'http_requests_total', match: { code: '5..' } },
      latency: { histogram: 'http_request_duration_seconds', thresholdSeconds: 0.5 },
      saturation: { metric: 'till_queue_depth', max: 10 },
    },
  });
  assert.ok(!spec.problem && spec.value);
  telemetry.setBundles([
    telemetryBundleOf({
      bundle: 'pos',
      namespace: ns,
      telemetry: spec.value,
      objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'till' } }],
    }),
  ]);
  const running = telemetry.run(abort.signal);
  t.after(async () => {
    abort.abort();
    await running;
    await hub.close();
    await w.close();
    await rm(dir, { recursive: true, force: true });
  });

  // first scrape: a baseline; then traffic with errors and slow requests in the next interval
  await eventually('the first scrape', () => telemetry.status().slis.some((s) => s.name === 'saturation'));
  w.serve(90, '200', 0.07);
  w.serve(10, '503', 0.8);
  w.queue.set(7);
  const eventTime = new Date().toISOString();
  const created = await kube.request('POST', `/api/v1/namespaces/${ns}/events`, {
    metadata: { name: 'till.1', namespace: ns },
    involvedObject: { kind: 'Pod', namespace: ns, name: 'till-0' },
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    type: 'Warning',
    count: 1,
    firstTimestamp: eventTime,
    lastTimestamp: eventTime,
    source: { component: 'kubelet' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await kube.request('POST', '/api/v1/namespaces/default/events', {
    metadata: { name: 'other.1', namespace: 'default' },
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'not-ours' },
    reason: 'Pulled',
    message: 'not a bundle of this site',
    type: 'Normal',
    firstTimestamp: eventTime,
    lastTimestamp: eventTime,
  });

  const slis = await eventually(
    'the second scrape',
    () => {
      const s = telemetry.status();
      const v = Object.fromEntries(s.slis.map((x) => [x.name, x.v]));
      return v.requests_total !== undefined && s.events.length > 0 ? v : undefined;
    },
    { timeoutMs: 15_000 },
  );
  assert.equal(slis.requests_total, 100);
  assert.equal(slis.errors_total, 10);
  assert.equal(slis.slow_requests_total, 10);
  assert.equal(slis.saturation, 0.7);
  assert.ok(slis.latency_p99_seconds! > 0.5 && slis.latency_p99_seconds! <= 1);

  // offline: the local page has it all, the hub has nothing
  const status = telemetry.status();
  assert.deepEqual(
    status.events.map((e) => [e.reason, e.bundle, e.object]),
    [['BackOff', 'pos', `Pod ${ns}/till-0`]],
  );
  assert.equal(hub.batches.size, 0);
  assert.ok(status.sender.lastError, 'the failed uplink shows');
  const html = renderLocalPage(
    {
      site: 'store-1',
      hub: hub.url,
      agentVersion: 'test',
      startedAt: new Date().toISOString(),
      hubContact: { last: null, reachable: false, error: 'unreachable' },
      desiredDigest: null,
      deployments: [],
      outbox: { pending: 0, bytes: 0, dropped: 0, nextSeq: 1 },
      telemetry: status,
    },
    Date.now(),
  );
  assert.match(html, /Service levels/);
  assert.match(html, /<td>pos<\/td><td>100<\/td><td>10<\/td><td>10<\/td>/);
  assert.match(html, /BackOff · Pod tele-\d+\/till-0 \(pos\)/);

  // the hub comes back: SLIs, the event, the agent's metrics and the scrape health all arrive
  hub.down = false;
  telemetry.hubBack();
  await eventually('delivery', () => {
    const all = [...hub.batches.values()];
    const samples: TelemetrySample[] = all.flatMap((b) => b.samples);
    const events: TelemetryEvent[] = all.flatMap((b) => b.events);
    return samples.some((s) => s.name === 'requests_total' && s.v === 100) &&
      events.some((e) => e.reason === 'BackOff') &&
      samples.some((s) => s.class === 'metric' && s.name === 'outpost_agent_telemetry_buffer_bytes') &&
      samples.some((s) => s.class === 'debug' && s.name === 'outpost_scrape_up' && s.v === 1)
      ? all
      : undefined;
  });
  const events = [...hub.batches.values()].flatMap((b) => b.events);
  assert.ok(!events.some((e) => e.reason === 'Pulled'), 'events of other namespaces stay local');
  assert.equal(events.filter((e) => e.reason === 'BackOff').length, 1);

  // a restart lists the events again: only the new one goes up, not the one forwarded before
  abort.abort();
  await running;
  const again = new AbortController();
  const restarted = await SiteTelemetry.open({
    dir,
    uplink: { send: (gz, signal) => hub.client.telemetry(gz, signal) },
    flushMs: 200,
    cluster,
  });
  restarted.setBundles([{ bundle: 'pos', namespaces: [ns] }]);
  const rerun = restarted.run(again.signal);
  try {
    const later = new Date(Date.now() + 1000).toISOString();
    const second = await kube.request('POST', `/api/v1/namespaces/${ns}/events`, {
      metadata: { name: 'till.2', namespace: ns },
      involvedObject: { kind: 'Pod', namespace: ns, name: 'till-0' },
      reason: 'Killing',
      message: 'Stopping container till',
      type: 'Normal',
      firstTimestamp: later,
      lastTimestamp: later,
    });
    assert.equal(second.status, 201);
    await eventually('the new event', () =>
      [...hub.batches.values()].some((b) => b.events.some((e) => e.reason === 'Killing')) ? true : undefined,
    );
    const all = [...hub.batches.values()].flatMap((b) => b.events);
    assert.equal(
      all.filter((e) => e.reason === 'BackOff').length,
      1,
      'not forwarded again after the restart',
    );
  } finally {
    again.abort();
    await rerun;
  }
});

test('pods annotated for scraping in the bundle’s namespace are found and scraped, with no URL written down', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-site-telemetry-'));
  const w = await workload();
  const ns = `pods-${Date.now()}`;
  await kube.request('POST', '/api/v1/namespaces', { metadata: { name: ns } });
  const port = new URL(w.url).port;
  const created = await kube.request('POST', `/api/v1/namespaces/${ns}/pods`, {
    metadata: { name: 'till-0', annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': port } },
    spec: { containers: [{ name: 'till', image: 'registry.example.com/till:1' }] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  // no kubelet here: the test reports the pod running, on loopback where the workload listens
  const patched = await kube.request(
    'PATCH',
    `/api/v1/namespaces/${ns}/pods/till-0/status`,
    { status: { phase: 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }] } },
    'application/merge-patch+json',
  );
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  const spec = parseTelemetrySpec({
    intervalSeconds: 5,
    annotatedPods: true,
    slis: { requests: { metric: 'http_requests_total' } },
  });
  assert.ok(!spec.problem && spec.value);
  const abort = new AbortController();
  const telemetry = await SiteTelemetry.open({
    dir,
    uplink: { send: () => Promise.reject(new Error('offline')) },
    cluster,
    events: false,
  });
  telemetry.setBundles([{ bundle: 'till', namespaces: [ns], telemetry: spec.value }]);
  const running = telemetry.run(abort.signal);
  t.after(async () => {
    abort.abort();
    await running;
    await w.close();
    await rm(dir, { recursive: true, force: true });
  });
  await eventually('the baseline scrape of the pod', () =>
    telemetry.status().buffer.classes.debug.records > 0 ? true : undefined,
  );
  w.serve(12, '200', 0.01);
  const requests = await eventually(
    'requests from the pod',
    () => telemetry.status().slis.find((s) => s.bundle === 'till' && s.name === 'requests_total'),
    { timeoutMs: 15_000 },
  );
  assert.equal(requests.v, 12);
});
