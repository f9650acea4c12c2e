// Remote-write against a real Prometheus (Debian's, with --web.enable-remote-write-receiver): SLI samples
// a site posts over mTLS reach Prometheus and come back through its query API; raw metrics only when
// configured. A receiver that fails before it accepts is retried; one that refuses a request is not.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createHubMetrics } from '../../src/hub/metrics.ts';
import { RemoteWriter } from '../../src/hub/telemetry/remote-write.ts';
import { snappyDecompress } from '../../src/hub/telemetry/snappy.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';
import { type PrometheusServer, startPrometheus } from '../support/prometheus-server.ts';

describe('remote-write to a real Prometheus', () => {
  let prom: PrometheusServer;
  let hub: HubServer;
  let site: Site;
  before(async () => {
    prom = await startPrometheus();
    hub = await startHubServer({
      connectivity: { sweepIntervalMs: 0 },
      alerts: { intervalMs: 0 },
      telemetry: { remoteWrite: { url: prom.writeUrl, classes: ['sli', 'metric'], flushIntervalMs: 60_000 } },
    });
    site = await hub.enroll('store-rw');
  });
  after(async () => {
    await hub?.close();
    await prom?.close();
  });

  test('SLIs and raw metrics posted by a site can be queried back from Prometheus; debug samples stay home', async () => {
    const t = Date.now() - 5_000;
    const r = await site.call('POST', '/agent/v1/sites/:site/telemetry', {
      batchId: 'rw-1',
      samples: [
        { class: 'sli', name: 'requests_total', bundle: 'pos', t: t - 1000, v: 120 },
        { class: 'sli', name: 'requests_total', bundle: 'pos', t, v: 80 },
        { class: 'sli', name: 'latency_p99_seconds', bundle: 'pos', t, v: 0.35 },
        { class: 'metric', name: 'node_load1', labels: { cpu: 'all' }, t, v: 1.5 },
        { class: 'debug', name: 'agent_debug_thing', t, v: 9 },
      ],
      events: [],
      dropped: { sli: 0, event: 0, metric: 0, debug: 0 },
    });
    assert.deepEqual(r.body, { accepted: true });
    assert.equal(hub.ctx.remoteWrite?.queued, 4, 'debug samples are not forwarded');
    await hub.ctx.remoteWrite!.flush();

    const requests = await prom.query('requests_total{site="store-rw",bundle="pos"}', t);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.value[1], '80');
    const earlier = await prom.query('requests_total{site="store-rw"}', t - 1000);
    assert.equal(earlier[0]!.value[1], '120');
    const latency = await prom.query('latency_p99_seconds{site="store-rw"}', t);
    assert.equal(latency[0]!.value[1], '0.35');
    const load = await prom.query('node_load1{site="store-rw"}', t);
    assert.deepEqual(load[0]!.metric, { __name__: 'node_load1', cpu: 'all', site: 'store-rw' });
    assert.equal((await prom.query('agent_debug_thing', t)).length, 0);
    const sent = await hub.ctx.metrics.registry.getSingleMetricAsString('outpost_remote_write_samples_total');
    assert.match(sent, /result="sent"} 4/);
  });
});

describe('remote-write retries', () => {
  test('5xx answers are retried with backoff until the receiver takes the request; a 400 is dropped at once', async () => {
    const seen: { encoding?: string; version?: string; body: Buffer }[] = [];
    // the receiver's answers in turn: busy twice, then accepted, then a refusal (e.g. out-of-order samples)
    const answers = [503, 503, 204, 400];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({
          encoding: req.headers['content-encoding'],
          version: req.headers['x-prometheus-remote-write-version'] as string,
          body,
        });
        res.writeHead(answers.shift() ?? 500).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const metrics = createHubMetrics();
    const writer = new RemoteWriter({ url: `http://127.0.0.1:${port}/write`, retryBaseMs: 20 }, metrics);
    try {
      const t = Date.now();
      writer.enqueue('store-9', [
        { class: 'sli', name: 'errors_total', bundle: 'pos', labels: { code: '500' }, t, v: 3 },
      ]);
      await writer.flush();
      assert.equal(seen.length, 3, 'two 503s, then accepted');
      assert.deepEqual(
        seen.map((s) => [s.encoding, s.version]),
        Array(3).fill(['snappy', '0.1.0']),
      );
      const text = new TextDecoder().decode(snappyDecompress(seen[2]!.body));
      for (const part of ['__name__', 'errors_total', 'store-9', 'code', '500'])
        assert.ok(text.includes(part), part);

      // a 400 is final: no retry, the samples are dropped and counted
      writer.enqueue('s', [{ class: 'sli', name: 'x', t, v: 1 }]);
      await writer.flush();
      assert.equal(seen.length, 4);
      const counts = await metrics.registry.getSingleMetricAsString('outpost_remote_write_samples_total');
      assert.match(counts, /result="sent"} 1/);
      assert.match(counts, /result="dropped"} 1/);
    } finally {
      await writer.close();
      server.close();
    }
  });
});
