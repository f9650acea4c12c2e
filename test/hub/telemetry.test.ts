// Telemetry at the hub over real mTLS and a real SQLite store: idempotent batches, gzip (and a gzip
// bomb), drop counts as events and metrics, SLI series, the SLO API with its budget arithmetic, and
// burn-rate alerts delivered to a real local webhook receiver that fails before it takes them.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { evaluateSloAlerts } from '../../src/hub/slo/alerts.ts';
import { deliverAlerts } from '../../src/hub/slo/webhooks.ts';
import { pruneTelemetry } from '../../src/hub/telemetry/prune.ts';
import type { TelemetryBatch, TelemetrySample } from '../../src/model/telemetry.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile } from '../support/fleet.ts';
import { type HubServer, type Site, startHubServer, testClock } from '../support/hub-server.ts';

const minute = 60_000;

/** POSTs raw bytes over the site's mTLS identity (the JSON client cannot send a gzip body). */
function postRaw(hub: HubServer, site: Site, body: Buffer, headers: Record<string, string>) {
  const url = new URL(`/agent/v1/sites/${site.siteId}/telemetry`, hub.url);
  return new Promise<{ status: number; body: { accepted?: boolean; error?: { code: string } } }>(
    (resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          ca: hub.ctx.tls.ca.certPem,
          cert: site.certPem,
          key: site.keyPem,
          headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

const batch = (
  batchId: string,
  samples: TelemetrySample[],
  extra: Partial<TelemetryBatch> = {},
): TelemetryBatch => ({
  batchId,
  samples,
  events: [],
  dropped: { sli: 0, event: 0, metric: 0, debug: 0 },
  ...extra,
});

/** One minute of a bundle's traffic at time t: requests, errors and slow requests. */
const traffic = (
  t: number,
  requests: number,
  errors: number,
  slow = 0,
  bundle = 'pos',
): TelemetrySample[] => [
  { class: 'sli', name: 'requests_total', bundle, t, d: minute, v: requests },
  { class: 'sli', name: 'errors_total', bundle, t, d: minute, v: errors },
  { class: 'sli', name: 'slow_requests_total', bundle, t, d: minute, v: slow },
];

const send = (site: Site, body: TelemetryBatch) => site.call('POST', '/agent/v1/sites/:site/telemetry', body);

async function bucketsOf(hub: HubServer, site: Site) {
  return hub.ctx.store.db
    .selectFrom('sli_site_buckets')
    .selectAll()
    .where('site_id', '=', site.siteId)
    .orderBy('bucket_start')
    .execute();
}

describe('telemetry ingest', () => {
  let hub: HubServer;
  let site: Site;
  before(async () => {
    hub = await startHubServer({ connectivity: { sweepIntervalMs: 0 }, alerts: { intervalMs: 0 } });
    site = await hub.enroll('store-tele');
  });
  after(() => hub.close());

  test('a batch is stored once: a resend of the same batch id changes nothing', async () => {
    const t = hub.clock.now().getTime();
    const body = batch('b-1', [
      ...traffic(t, 100, 2, 5),
      { class: 'sli', name: 'latency_p99_seconds', bundle: 'pos', t, v: 0.25 },
      { class: 'metric', name: 'node_cpu_seconds_total', t, v: 12 },
    ]);
    const first = await send(site, body);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, { accepted: true });
    const again = await send(site, body);
    assert.deepEqual(again.body, { accepted: false });
    const rows = await bucketsOf(hub, site);
    assert.equal(rows.length, 1, 'raw metrics are not stored');
    assert.deepEqual(
      [rows[0]!.requests, rows[0]!.errors, rows[0]!.slow, rows[0]!.latency_max, rows[0]!.samples],
      [100, 2, 5, 0.25, 4],
    );
    const metrics = await hub.ctx.metrics.registry.getSingleMetricAsString('outpost_telemetry_batches_total');
    assert.match(metrics, /result="accepted"} 1/);
    assert.match(metrics, /result="duplicate"} 1/);
  });

  test('a gzip body is inflated; a gzip bomb is refused with 413; other encodings with 415', async () => {
    const t = hub.clock.now().getTime();
    const json = Buffer.from(JSON.stringify(batch('gz-1', traffic(t, 10, 0))));
    const ok = await postRaw(hub, site, gzipSync(json), { 'content-encoding': 'gzip' });
    assert.deepEqual([ok.status, ok.body], [200, { accepted: true }]);

    // 64 MiB of spaces inflate from about 64 KiB; the hub stops at its 32 MiB limit
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < 128 * 1024, `bomb is ${bomb.length} bytes`);
    const refused = await postRaw(hub, site, bomb, { 'content-encoding': 'gzip' });
    assert.equal(refused.status, 413);
    assert.equal(refused.body.error?.code, 'request_invalid');

    const br = await postRaw(hub, site, json, { 'content-encoding': 'br' });
    assert.equal(br.status, 415);
    const broken = await postRaw(hub, site, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    assert.equal(broken.status, 400);
  });

  test('only the site itself may send: no certificate is 401, another site id is 403, a bad body 400', async () => {
    const anon = await hub.anonymous.request('POST', `/agent/v1/sites/${site.siteId}/telemetry`, {
      body: batch('x', []),
    });
    assert.equal(anon.status, 401);
    const other = await hub.enroll('store-other');
    const wrong = await other.call('POST', `/agent/v1/sites/${site.siteId}/telemetry`, batch('x', []));
    assert.equal(wrong.status, 403);
    const bad = await send(site, { batchId: 'has spaces', samples: [], events: [] } as never);
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { code: string } }).error.code, 'request_invalid');
  });

  test('events land in the event history; lost SLIs or events raise one event, every drop counts on /metrics', async () => {
    const t = hub.clock.now().getTime();
    const events = [
      {
        t,
        bundle: 'pos',
        type: 'Warning' as const,
        object: 'Pod default/pos-1',
        reason: 'BackOff',
        message: 'restarting',
        count: 3,
      },
    ];
    const dropped = { sli: 0, event: 4, metric: 100, debug: 7 };
    assert.deepEqual((await send(site, batch('ev-1', [], { events, dropped }))).body, { accepted: true });
    // the same cumulative counts again: nothing new was dropped
    assert.deepEqual((await send(site, batch('ev-2', [], { dropped }))).body, { accepted: true });
    // a late batch with lower counts adds nothing either
    assert.deepEqual(
      (await send(site, batch('ev-0', [], { dropped: { sli: 0, event: 1, metric: 50, debug: 0 } }))).body,
      {
        accepted: true,
      },
    );
    // only raw metrics dropped: counted, but no event
    const more = { ...dropped, metric: 250 };
    assert.deepEqual((await send(site, batch('ev-3', [], { dropped: more }))).body, { accepted: true });
    const list = (await hub.operator('GET', '/api/v1/events?site=store-tele')).json().items as Array<{
      type: string;
      message: string;
      details: Record<string, unknown>;
    }>;
    const siteEvents = list.filter((e) => e.type === 'site_event');
    assert.equal(siteEvents.length, 1);
    assert.match(siteEvents[0]!.message, /Warning BackOff on Pod default\/pos-1/);
    const drops = list.filter((e) => e.type === 'telemetry_dropped');
    assert.equal(drops.length, 1, 'one drop event for one growth');
    assert.deepEqual(drops[0]!.details.new, dropped);
    const metric = await hub.ctx.metrics.registry.getSingleMetricAsString(
      'outpost_telemetry_agent_dropped_total',
    );
    assert.match(metric, /class="metric"} 250/);
    assert.match(metric, /class="debug"} 7/);
  });

  test("a site's SLI series come back as [time, value] points per bundle and name", async () => {
    const r = await hub.operator('GET', '/api/v1/sites/store-tele/slis');
    assert.equal(r.statusCode, 200, r.body);
    const series = r.json().series as Array<{ bundle: string; name: string; points: [number, number][] }>;
    const requests = series.find((s) => s.bundle === 'pos' && s.name === 'requests_total');
    assert.ok(requests);
    assert.equal(
      requests.points.reduce((sum, p) => sum + p[1], 0),
      110,
    );
    assert.equal(
      (await hub.operator('GET', '/api/v1/sites/store-tele/slis?since=yesterday')).statusCode,
      400,
    );
    assert.equal((await hub.operator('GET', '/api/v1/sites/nowhere/slis')).statusCode, 404);
  });

  test('retention drops old buckets and batch ids', async () => {
    hub.clock.advance(8 * 24 * 3600_000);
    assert.ok((await pruneTelemetry(hub.ctx)) > 0);
    assert.equal((await bucketsOf(hub, site)).length, 0);
    const ids = await hub.ctx.store.db.selectFrom('telemetry_batches').select('batch_id').execute();
    assert.equal(ids.length, 0);
  });
});

interface Received {
  body: {
    version: string;
    status: string;
    groupKey: string;
    alerts: Array<{ status: string; labels: Record<string, string>; endsAt: string; fingerprint: string }>;
  };
}

/** A real webhook receiver on loopback that answers 503 to the first `failures` requests. */
async function receiver(
  failures: number,
): Promise<{ url: string; got: Received[]; attempts: () => number; server: Server }> {
  const got: Received[] = [];
  let attempts = 0;
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (attempts <= failures) {
        res.writeHead(503).end('try later');
        return;
      }
      got.push({ body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/hook`, got, attempts: () => attempts, server };
}

describe('SLOs and burn-rate alerts', () => {
  let hub: HubServer;
  let west: Site;
  let east: Site;
  let hook: Awaited<ReturnType<typeof receiver>>;
  // a round start keeps the 5-minute buckets where the arithmetic below expects them
  const start = Math.ceil(Date.now() / 3_600_000) * 3_600_000;
  before(async () => {
    hook = await receiver(2);
    hub = await startHubServer(
      {
        connectivity: { sweepIntervalMs: 0 },
        alerts: {
          intervalMs: 0,
          receivers: [{ name: 'ops', url: hook.url }],
          retryBaseMs: 1000,
          retryMaxMs: 60_000,
        },
      },
      undefined,
      { clock: testClock(new Date(start - 10 * minute)) },
    );
    await hub.clock.atRealTime(async () => {
      west = await hub.enroll('store-west', { region: 'west' });
      east = await hub.enroll('store-east', { region: 'east' });
    });
    const r = await hub.operator('POST', '/api/v1/bundles/apply', bundleFile('pos', {}, []));
    assert.equal(r.statusCode, 200, r.body);
  });
  after(async () => {
    await hub.close();
    hook.server.close();
  });

  test('create, replace, list, read and delete an SLO; bad ones are refused; every write is audited', async () => {
    const spec = {
      name: 'pos-avail',
      bundle: 'pos',
      objective: 0.999,
      window: '28d',
      sli: { kind: 'errors' },
    };
    const created = await hub.operator('POST', '/api/v1/slos', spec);
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json(), {
      ...spec,
      budgetRemaining: 1,
      attainment: null,
      burn: { fast: null, slow: null },
      alert: 'ok',
      sites: 2,
    });
    const replaced = await hub.operator('POST', '/api/v1/slos', { ...spec, description: 'checkout works' });
    assert.equal(replaced.statusCode, 200);
    assert.equal((await hub.operator('GET', '/api/v1/slos')).json().items.length, 1);
    assert.equal((await hub.operator('POST', '/api/v1/slos', { ...spec, window: '400d' })).statusCode, 400);
    assert.equal((await hub.operator('POST', '/api/v1/slos', { ...spec, window: '2w' })).statusCode, 400);
    assert.equal((await hub.operator('POST', '/api/v1/slos', { ...spec, objective: 1 })).statusCode, 400);
    const badSel = await hub.operator('POST', '/api/v1/slos', {
      ...spec,
      selector: { matchExpressions: [{ key: 'region', operator: 'In', values: [] }] },
    });
    assert.equal(badSel.json().error.code, 'selector_invalid');
    assert.equal((await hub.operator('DELETE', '/api/v1/slos/pos-avail')).statusCode, 204);
    assert.equal((await hub.operator('DELETE', '/api/v1/slos/pos-avail')).statusCode, 404);
    assert.equal((await hub.operator('GET', '/api/v1/slos/pos-avail')).statusCode, 404);
    const audit = (await hub.operator('GET', '/api/v1/audit?limit=20')).json().items as Array<{
      action: string;
    }>;
    assert.deepEqual(
      // the test clock stands still, so entries of one millisecond come in any order
      audit
        .filter((a) => a.action.startsWith('slo.'))
        .map((a) => a.action)
        .sort(),
      ['slo.create', 'slo.delete', 'slo.replace'],
    );
  });

  test('budget and burn from posted SLIs, scoped by selector; a fast burn pages once, retried until delivered, then resolves once', async () => {
    // west only: east's errors must not count
    const spec = {
      name: 'pos-west',
      bundle: 'pos',
      selector: { matchLabels: { region: 'west' } },
      objective: 0.999,
      window: '28d',
      sli: { kind: 'errors' },
    };
    assert.equal((await hub.operator('POST', '/api/v1/slos', spec)).statusCode, 201);
    // 10 quiet minutes at west before the hour: 10 × 10,000 requests, 0.05% errors (5 per minute)
    let n = 0;
    for (let m = 0; m < 10; m++) {
      const t = start - (10 - m) * minute + 1;
      assert.deepEqual((await send(west, batch(`w-${n++}`, traffic(t, 10_000, 5)))).body, { accepted: true });
      await send(east, batch(`e-${m}`, traffic(t, 10_000, 5_000)));
    }
    hub.clock.advance(10 * minute);
    let v = (await hub.operator('GET', '/api/v1/slos/pos-west')).json();
    // window: 100,000 requests, 50 errors → attainment 0.9995; allowed 100 → budget 1 − 50/100 = 0.5
    assert.ok(Math.abs(v.attainment - 0.9995) < 1e-9, String(v.attainment));
    assert.ok(Math.abs(v.budgetRemaining - 0.5) < 1e-9, String(v.budgetRemaining));
    // burn over 1 h = (50 / 100,000) / 0.001 = 0.5
    assert.ok(Math.abs(v.burn.fast - 0.5) < 1e-9, String(v.burn.fast));
    assert.equal(v.alert, 'ok');
    assert.equal(v.sites, 1);
    assert.equal(v.worstSites.length, 1);
    assert.equal(v.worstSites[0].site, 'store-west');
    assert.ok(v.series.length > 0);
    assert.equal(await evaluateSloAlerts(hub.ctx), 0, 'nothing to send while ok');

    // then 5 bad minutes: 2% errors (200 per 10,000). 1 h: 50 + 1,000 = 1,050 of 150,000 → 0.007 → burn 7;
    // not fast yet. 5 m window (buckets overlapping it: the last 5 minutes only) → 0.02 → burn 20.
    for (let m = 0; m < 5; m++) {
      await send(west, batch(`w-${n++}`, traffic(start + m * minute + 1, 10_000, 200)));
    }
    hub.clock.advance(5 * minute);
    v = (await hub.operator('GET', '/api/v1/slos/pos-west')).json();
    assert.ok(Math.abs(v.burn.fast - 7) < 1e-9, String(v.burn.fast));
    assert.equal(v.alert, 'slow-burn', 'slow: 6 h burn 7 > 6 and 30 m burn 7 > 6');

    // 10 more bad minutes at 5%: 1 h = 50 + 1,000 + 5,000 = 6,050 of 250,000 → 0.0242 → burn 24.2 > 14.4
    for (let m = 5; m < 15; m++) {
      await send(west, batch(`w-${n++}`, traffic(start + m * minute + 1, 10_000, 500)));
    }
    hub.clock.advance(10 * minute);
    v = (await hub.operator('GET', '/api/v1/slos/pos-west')).json();
    assert.ok(Math.abs(v.burn.fast - 24.2) < 1e-9, String(v.burn.fast));
    assert.equal(v.alert, 'fast-burn');

    // the slow alert fired at the last evaluation-free step too: one evaluation queues fast and slow
    assert.equal(await evaluateSloAlerts(hub.ctx), 2);
    assert.equal(
      await evaluateSloAlerts(hub.ctx),
      0,
      'still firing, inside the repeat interval: not sent again',
    );
    // the receiver fails twice: two passes retry, the delays double (1 s, then 2 s)
    assert.deepEqual(await deliverAlerts(hub.ctx), { delivered: 0, retrying: 2, failed: 0 });
    assert.deepEqual(await deliverAlerts(hub.ctx), { delivered: 0, retrying: 0, failed: 0 }, 'not due yet');
    hub.clock.advance(1000);
    assert.deepEqual(await deliverAlerts(hub.ctx), { delivered: 2, retrying: 0, failed: 0 });
    assert.equal(hook.attempts(), 4);
    const fast = hook.got.find((g) => g.body.alerts[0]!.labels.alertname === 'SloFastBurn');
    assert.ok(fast);
    assert.equal(fast.body.version, '4');
    assert.equal(fast.body.status, 'firing');
    assert.deepEqual(fast.body.alerts[0]!.labels, {
      alertname: 'SloFastBurn',
      slo: 'pos-west',
      bundle: 'pos',
      severity: 'page',
    });
    assert.equal(fast.body.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');

    // recovery: 10 clean minutes; the 5 m window is clean, so the fast alert resolves (sent once)
    for (let m = 15; m < 25; m++) {
      await send(west, batch(`w-${n++}`, traffic(start + m * minute + 1, 10_000, 0)));
    }
    hub.clock.advance(10 * minute);
    assert.equal((await hub.operator('GET', '/api/v1/slos/pos-west')).json().alert, 'slow-burn');
    assert.equal(await evaluateSloAlerts(hub.ctx), 1);
    assert.equal(await evaluateSloAlerts(hub.ctx), 0, 'resolved is sent once');
    assert.deepEqual(await deliverAlerts(hub.ctx), { delivered: 1, retrying: 0, failed: 0 });
    const resolved = hook.got.at(-1)!;
    assert.equal(resolved.body.status, 'resolved');
    assert.equal(resolved.body.alerts[0]!.labels.alertname, 'SloFastBurn');
    assert.notEqual(resolved.body.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');
    assert.equal(resolved.body.alerts[0]!.fingerprint, fast.body.alerts[0]!.fingerprint);

    // a firing alert is sent again after the repeat interval (4 h): keep burning slowly at 1%
    hub.clock.advance(4 * 3_600_000);
    const now = hub.clock.now().getTime();
    for (let m = 0; m < 30; m++) await send(west, batch(`w-${n++}`, traffic(now - m * minute, 10_000, 100)));
    // 30 m: 3,000 of 300,000 → burn 10 > 6 (slow still firing, sent again); 1 h: 10 < 14.4 (fast stays resolved)
    assert.equal(await evaluateSloAlerts(hub.ctx), 1);
    assert.deepEqual(await deliverAlerts(hub.ctx), { delivered: 1, retrying: 0, failed: 0 });
    assert.deepEqual(
      [hook.got.at(-1)!.body.status, hook.got.at(-1)!.body.alerts[0]!.labels.alertname],
      ['firing', 'SloSlowBurn'],
    );
    const types = (await hub.operator('GET', '/api/v1/events?type=slo_alert_firing&type=slo_alert_resolved'))
      .json()
      .items.map((e: { type: string }) => e.type);
    assert.deepEqual(types, ['slo_alert_firing', 'slo_alert_firing', 'slo_alert_resolved']);
  });

  test('an SLO made after the data picks it up from the site buckets; counts sent in separate batches add up', async () => {
    const t = hub.clock.now().getTime() - minute;
    const count = (name: string, v: number): TelemetrySample => ({
      class: 'sli',
      name,
      bundle: 'kiosk',
      t,
      v,
    });
    await send(east, batch('k-1', [count('requests_total', 4_000)]));
    await send(east, batch('k-2', [count('errors_total', 8)]));
    const spec = { name: 'kiosk', bundle: 'kiosk', objective: 0.99, window: '1h', sli: { kind: 'errors' } };
    // 8 / 4,000 = 0.002 bad; allowed 0.01 → budget 1 − 0.2 = 0.8
    let v = (await hub.operator('POST', '/api/v1/slos', spec)).json();
    assert.ok(Math.abs(v.budgetRemaining - 0.8) < 1e-9, String(v.budgetRemaining));
    await send(east, batch('k-3', [count('errors_total', 12)]));
    // 20 / 4,000 = 0.005 → budget 0.5
    v = (await hub.operator('GET', '/api/v1/slos/kiosk')).json();
    assert.ok(Math.abs(v.budgetRemaining - 0.5) < 1e-9, String(v.budgetRemaining));
  });

  test('a delivery the receiver refuses for good (4xx) fails at once; a receiver that never answers is given up after maxAttempts', async () => {
    const refusing = createServer((_req, res) => res.writeHead(400).end('bad'));
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const port = (refusing.address() as { port: number }).port;
    hub.ctx.config.alerts.receivers = [
      { name: 'strict', url: `http://127.0.0.1:${port}/` },
      // nothing listens on port 9 (discard) on loopback: connection refused
      { name: 'gone', url: 'http://127.0.0.1:9/' },
    ];
    hub.ctx.config.alerts.maxAttempts = 3;
    try {
      await hub.ctx.store.db.deleteFrom('slo_alerts').execute();
      hub.clock.advance(minute);
      const now = hub.clock.now().getTime();
      let n = 0;
      for (let m = 0; m < 60; m++)
        await send(west, batch(`z-${n++}`, traffic(now - m * minute, 10_000, 2_000)));
      assert.ok((await evaluateSloAlerts(hub.ctx)) >= 2);
      const first = await deliverAlerts(hub.ctx);
      assert.ok(first.failed >= 1, JSON.stringify(first));
      for (let i = 0; i < 5; i++) {
        hub.clock.advance(60_000);
        await deliverAlerts(hub.ctx);
      }
      const rows = await hub.ctx.store.db
        .selectFrom('alert_deliveries')
        .select(['receiver', 'state', 'attempts'])
        .where('receiver', 'in', ['strict', 'gone'])
        .execute();
      for (const r of rows) {
        if (r.receiver === 'strict') assert.deepEqual([r.state, Number(r.attempts)], ['failed', 1]);
        else assert.deepEqual([r.state, Number(r.attempts)], ['failed', 3]);
      }
    } finally {
      refusing.close();
    }
  });
});

describe('SLO history', () => {
  test('a fleet-wide SLO made today sees the bundle days back, past the per-site retention; a scoped one only what sites still hold', async () => {
    const hour = 3_600_000;
    const now = Math.floor(Date.now() / hour) * hour;
    const hub = await startHubServer(
      { connectivity: { sweepIntervalMs: 0 }, alerts: { intervalMs: 0 } },
      undefined,
      { clock: testClock(new Date(now)) },
    );
    try {
      const site = await hub.clock.atRealTime(() => hub.enroll('store-history', { region: 'north' }));
      await send(site, batch('h-1', traffic(now - 72 * hour + minute, 10_000, 50)));
      await send(site, batch('h-2', traffic(now - hour + minute, 10_000, 0)));
      await pruneTelemetry(hub.ctx);
      const left = await bucketsOf(hub, site);
      assert.equal(left.length, 1, 'the 3-day-old site bucket is gone (48 h retention)');

      const base = { bundle: 'pos', objective: 0.99, window: '7d', sli: { kind: 'errors' } };
      // fleet-wide: 50 bad of 20,000 = 0.0025 against 0.01 allowed → budget 0.75, attainment 0.9975
      const all = (await hub.operator('POST', '/api/v1/slos', { ...base, name: 'all' })).json();
      assert.ok(Math.abs(all.budgetRemaining - 0.75) < 1e-9, String(all.budgetRemaining));
      assert.ok(Math.abs(all.attainment - 0.9975) < 1e-9, String(all.attainment));
      // scoped: only the last hour's clean 10,000 requests are left to count
      const scoped = (
        await hub.operator('POST', '/api/v1/slos', {
          ...base,
          name: 'north',
          selector: { matchLabels: { region: 'north' } },
        })
      ).json();
      assert.deepEqual([scoped.budgetRemaining, scoped.attainment], [1, 1]);
    } finally {
      await hub.close();
    }
  });
});

describe("the hub's telemetry timer", () => {
  test('on its own, the hub evaluates SLOs and delivers the page (and its resolution when the SLO is deleted); samples from far ahead of the hub clock are not stored', async () => {
    const hook = await receiver(0);
    const hub = await startHubServer({
      connectivity: { sweepIntervalMs: 0 },
      alerts: { intervalMs: 50, receivers: [{ name: 'ops', url: hook.url }] },
    });
    try {
      const site = await hub.enroll('store-timer');
      const now = hub.clock.now().getTime();
      const samples = Array.from({ length: 10 }, (_, m) => traffic(now - m * minute, 1_000, 500)).flat();
      await send(site, batch('t-1', [...samples, ...traffic(now + 3 * 3_600_000, 1, 1)]));
      const rows = await bucketsOf(hub, site);
      assert.ok(
        rows.every((r) => Number(r.bucket_start) <= now),
        'the bucket 3 h ahead was dropped',
      );
      const created = await hub.operator('POST', '/api/v1/slos', {
        name: 'timer',
        bundle: 'pos',
        objective: 0.999,
        window: '28d',
        sli: { kind: 'errors' },
      });
      assert.equal(created.statusCode, 201);
      const page = await eventually('the fast-burn page at the receiver', () =>
        hook.got.find((g) => g.body.alerts[0]!.labels.alertname === 'SloFastBurn'),
      );
      assert.equal(page.body.status, 'firing');
      // deleting the SLO resolves what it had firing
      assert.equal((await hub.operator('DELETE', '/api/v1/slos/timer')).statusCode, 204);
      const resolved = await eventually('the resolution after the delete', () =>
        hook.got.find(
          (g) => g.body.status === 'resolved' && g.body.alerts[0]!.labels.alertname === 'SloFastBurn',
        ),
      );
      assert.equal(resolved.body.alerts[0]!.fingerprint, page.body.alerts[0]!.fingerprint);
    } finally {
      await hub.close();
      hook.server.close();
    }
  });
});
