// /metrics in the Prometheus text format, read back with Prometheus' own parser: fleet gauges
// agree with the status, requests are timed by route template, and the number of series is the same
// for 10 sites as for 10,000 (no label ever names a site).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminToken, type MemoryHub, memoryHub, seedSites } from '../support/hub.ts';
import { parsePrometheusText, type Series } from '../support/prometheus.ts';

const regions = ['west', 'east', 'north'];
const formats = ['mini', 'max'];

async function fleetOf(n: number): Promise<MemoryHub> {
  const hub = await memoryHub();
  await seedSites(
    hub.ctx,
    Array.from({ length: n }, (_, i) => ({
      name: `site-${i}`,
      labels: { region: regions[i % 3]!, format: formats[i % 2]!, storeId: String(i) },
    })),
  );
  await hub.applyBundle('web', {});
  await hub.applyBundle('pos', { matchLabels: { format: 'mini' } });
  const site = await hub.register('reporter', { region: 'west', format: 'mini' });
  const desired = await hub.desired(site);
  await hub.report(site, {
    seq: 1,
    deployments: desired.map((d) => ({
      bundle: d.bundle,
      digest: d.digest,
      state: 'Failed',
      counts: { total: 1, applied: 0, ready: 0 },
    })),
  });
  hub.advance(100_000);
  await hub.desired(site);
  await hub.sweep();
  await hub.get('/api/v1/status');
  await hub.get('/api/v1/sites/site-1');
  await hub.app.inject({ method: 'GET', url: '/nowhere' });
  return hub;
}

async function scrape(hub: MemoryHub): Promise<{ series: Series[]; contentType: string }> {
  const r = await hub.app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(r.statusCode, 200);
  return { series: await parsePrometheusText(r.body), contentType: String(r.headers['content-type']) };
}

/** Identities of the series (name and labels), as Prometheus would store them. */
function identities(series: Series[], prefix = 'outpost_'): string[] {
  return series
    .filter((s) => s.name.startsWith(prefix))
    .map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`)
    .sort();
}

function gauge(series: Series[], name: string, labels: Record<string, string>): number {
  const m = series.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(m, `${name}${JSON.stringify(labels)} is exposed`);
  return m.value;
}

test('the series count is the same for 10 sites as for 10,000, and no label names a site', async () => {
  const small = await fleetOf(10);
  const large = await fleetOf(10_000);
  try {
    const a = await scrape(small);
    const b = await scrape(large);
    assert.match(a.contentType, /^text\/plain; version=0\.0\.4/);
    assert.deepEqual(identities(b.series), identities(a.series));
    assert.ok(b.series.length < 600, `${b.series.length} series in all`);
    const values = new Set(b.series.flatMap((s) => Object.values(s.labels)));
    assert.ok(![...values].some((v) => /^site-\d+$/.test(v) || v === 'reporter'), 'no site name in a label');
    // every site but the one that reported fell silent for 100 s
    assert.equal(gauge(b.series, 'outpost_sites', { connectivity: 'Online' }), 1);
    assert.equal(gauge(b.series, 'outpost_sites', { connectivity: 'Stale' }), 10_000);
    assert.equal(gauge(b.series, 'outpost_bundle_deployments', { bundle: 'web', state: 'Failed' }), 1);
    assert.equal(gauge(b.series, 'outpost_bundle_deployments', { bundle: 'web', state: 'Pending' }), 10_000);
  } finally {
    await small.close();
    await large.close();
  }
});

test('requests are timed by route template and status class, never by URL', async () => {
  const hub = await fleetOf(3);
  try {
    const { series } = await scrape(hub);
    const requests = series.filter((s) => s.name === 'outpost_http_request_duration_seconds_count');
    const routes = new Set(
      requests.map((s) => `${s.labels.method} ${s.labels.route} ${s.labels.status_class}`),
    );
    assert.ok(routes.has('GET /api/v1/sites/:name 2xx'), [...routes].join('\n'));
    assert.ok(routes.has('GET unmatched 4xx'), [...routes].join('\n'));
    assert.ok(![...routes].some((r) => r.includes('site-1')));
    const store = series.filter((s) => s.name === 'outpost_store_query_duration_seconds_count');
    assert.deepEqual(
      new Set(store.map((s) => s.labels.operation)),
      new Set(['select', 'insert', 'update', 'delete', 'other']),
    );
  } finally {
    await hub.close();
  }
});

test('fleet gauges agree with GET /api/v1/status', async () => {
  const hub = await fleetOf(12);
  try {
    const { series } = await scrape(hub);
    const status = await hub.get<{
      sites: { byConnectivity: Record<string, number> };
      deployments: { byState: Record<string, number> };
    }>('/api/v1/status');
    for (const [c, n] of Object.entries(status.sites.byConnectivity)) {
      assert.equal(gauge(series, 'outpost_sites', { connectivity: c }), n, c);
    }
    for (const [s, n] of Object.entries(status.deployments.byState)) {
      assert.equal(gauge(series, 'outpost_deployments', { state: s }), n, s);
    }
    assert.equal(
      gauge(series, 'outpost_label_sites', { label: 'region', value: 'west', connectivity: 'Online' }),
      1,
    );
    assert.equal(
      gauge(series, 'outpost_label_sites', { label: 'region', value: 'west', connectivity: 'Stale' }),
      4,
    );
  } finally {
    await hub.close();
  }
});

test('the parser used here refuses malformed exposition text, so a pass means something', async () => {
  await assert.rejects(
    parsePrometheusText('outpost_sites{connectivity="Online" 1\n'),
    /not valid Prometheus/,
  );
});

test('a scraper needs an API token (a viewer will do) unless the hub serves /metrics publicly', async () => {
  const hub = await memoryHub();
  try {
    const scrape = (authorization?: string) =>
      hub.app.inject({
        method: 'GET',
        url: '/metrics',
        ...(authorization ? { headers: { authorization } } : {}),
      });
    const none = await scrape();
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().error.code, 'unauthorized');
    assert.equal((await scrape('Bearer oat_00000000-0000-7000-8000-00000000dead.nope')).statusCode, 401);
    const created = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/api-tokens',
      headers: { authorization: `Bearer ${adminToken}` },
      payload: { name: 'prometheus', role: 'viewer' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const viewer = await scrape(`Bearer ${created.json().token}`);
    assert.equal(viewer.statusCode, 200);
    assert.match(viewer.body, /^outpost_sites\{connectivity="Online"\} /m);
  } finally {
    await hub.close();
  }
  const open = await memoryHub({ metricsPublic: true });
  try {
    const r = await open.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(r.statusCode, 200);
  } finally {
    await open.close();
  }
});

test('long-polls are timed from arrival to their wait, and from their end (deadline or wake-up) to their answer', async () => {
  const hub = await memoryHub();
  try {
    const site = await hub.register('poller', { region: 'west' });
    await hub.applyBundle('web', {});
    const etag = String((await site.call('GET', '/agent/v1/sites/:site/desired')).headers.etag);
    const poll = (wait: number) =>
      site.call('GET', `/agent/v1/sites/:site/desired?wait=${wait}`, undefined, { 'if-none-match': etag });
    assert.equal((await poll(1)).status, 304);
    const woken = poll(30);
    await new Promise((r) => setTimeout(r, 300));
    await hub.applyBundle('web', {}, { a: '2' });
    assert.equal((await woken).status, 200);
    // an answer is timed once the socket has taken it, which may come after the client has read it
    let { series } = await scrape(hub);
    for (let i = 0; i < 20 && !series.some((s) => s.labels.end === 'change'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      ({ series } = await scrape(hub));
    }
    const answered = (end: string, suffix: string) =>
      gauge(series, `outpost_long_poll_answer_delay_seconds_${suffix}`, { end });
    assert.equal(gauge(series, 'outpost_long_poll_wait_start_seconds_count', {}), 2);
    assert.equal(answered('timeout', 'count'), 1);
    assert.equal(answered('change', 'count'), 1);
    // both answers went out promptly: nothing here holds the event loop
    assert.ok(answered('timeout', 'sum') < 0.5, `timeout answered ${answered('timeout', 'sum')} s late`);
    assert.ok(answered('change', 'sum') < 0.5, `change answered ${answered('change', 'sum')} s after it`);
  } finally {
    await hub.close();
  }
});
