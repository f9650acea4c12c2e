// Remote-write against a real Prometheus (Debian's, with --web.enable-remote-write-receiver): SLI samples
// a site posts over mTLS reach Prometheus and come back through its query API; raw metrics only when
// configured; samples queued when the hub stops are sent by the hub started again on the same database.
// A receiver that fails before it accepts is retried; one that refuses a request is not; one that stays
// down keeps the samples queued, and past the queue's bound the oldest go.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { contextFromConfig } from '../../src/hub/assemble.ts';
import type { RemoteWriteConfig } from '../../src/hub/telemetry/remote-write.ts';
import { snappyDecompress } from '../../src/hub/telemetry/snappy.ts';
import type { TelemetrySample } from '../../src/model/telemetry.ts';
import { tempDir } from '../support/git-server.ts';
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
    assert.equal(await hub.ctx.remoteWrite?.queued(), 4, 'debug samples are not forwarded');
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
    assert.equal(await hub.ctx.remoteWrite?.queued(), 0);
  });

  test('samples queued when the hub stops are sent by the hub started again on its database', async () => {
    const work = await tempDir('outpost-rw-');
    const database = join(work.dir, 'hub.db');
    const remoteWrite = { url: prom.writeUrl, flushIntervalMs: 3_600_000 };
    const t = Date.now() - 3_000;
    try {
      const first = await startHubServer({ database, telemetry: { remoteWrite } });
      const store = await first.enroll('store-restart');
      const r = await store.call('POST', '/agent/v1/sites/:site/telemetry', {
        batchId: 'restart-1',
        samples: [{ class: 'sli', name: 'requests_total', bundle: 'kiosk', t, v: 42 }],
        events: [],
        dropped: { sli: 0, event: 0, metric: 0, debug: 0 },
      });
      assert.deepEqual(r.body, { accepted: true });
      await first.close();
      assert.equal((await prom.query('requests_total{site="store-restart"}', t)).length, 0);

      const second = await startHubServer({ database, telemetry: { remoteWrite } }, undefined, {
        adminToken: first.adminToken,
      });
      try {
        assert.equal(await second.ctx.remoteWrite?.queued(), 1, 'the queue outlived the first hub');
        await second.ctx.remoteWrite!.flush();
        const back = await prom.query('requests_total{site="store-restart",bundle="kiosk"}', t);
        assert.equal(back[0]?.value[1], '42');
        assert.equal(await second.ctx.remoteWrite?.queued(), 0);
      } finally {
        await second.close();
      }
    } finally {
      await work.remove();
    }
  });
});

/** A hub context on in-memory SQLite forwarding to `url`; samples are queued as ingest does. */
async function forwarder(config: RemoteWriteConfig) {
  const ctx = await contextFromConfig({
    database: ':memory:',
    telemetry: { remoteWrite: config },
    alerts: { intervalMs: 0 },
  });
  const writer = ctx.remoteWrite!;
  return {
    ctx,
    writer,
    enqueue: (site: string, samples: TelemetrySample[]) => writer.enqueue(ctx.store.db, site, samples),
    counts: () => ctx.metrics.registry.getSingleMetricAsString('outpost_remote_write_samples_total'),
  };
}

/** A receiver answering each request with the next status of `answers` (500 when none are left). */
async function receiver(answers: number[]) {
  const seen: { encoding?: string; version?: string; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        encoding: req.headers['content-encoding'],
        version: req.headers['x-prometheus-remote-write-version'] as string,
        body: Buffer.concat(chunks),
      });
      res.writeHead(answers.shift() ?? 500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/write`, seen, close: () => server.close() };
}

describe('remote-write retries', () => {
  test('5xx answers are retried with backoff until the receiver takes the request; a 400 is dropped at once', async () => {
    // the receiver's answers in turn: busy twice, then accepted, then a refusal (e.g. out-of-order samples)
    const rx = await receiver([503, 503, 204, 400]);
    const f = await forwarder({ url: rx.url, retryBaseMs: 20 });
    try {
      const t = Date.now();
      await f.enqueue('store-9', [
        { class: 'sli', name: 'errors_total', bundle: 'pos', labels: { code: '500' }, t, v: 3 },
      ]);
      await f.writer.flush();
      assert.equal(rx.seen.length, 3, 'two 503s, then accepted');
      assert.deepEqual(
        rx.seen.map((s) => [s.encoding, s.version]),
        Array(3).fill(['snappy', '0.1.0']),
      );
      const text = new TextDecoder().decode(snappyDecompress(rx.seen[2]!.body));
      for (const part of ['__name__', 'errors_total', 'store-9', 'code', '500'])
        assert.ok(text.includes(part), part);

      // a 400 is final: no retry, the samples are dropped and counted
      await f.enqueue('s', [{ class: 'sli', name: 'x', t, v: 1 }]);
      await f.writer.flush();
      assert.equal(rx.seen.length, 4);
      assert.match(await f.counts(), /result="sent"} 1/);
      assert.match(await f.counts(), /result="dropped"} 1/);
      assert.equal(await f.writer.queued(), 0);
    } finally {
      await f.ctx.close();
      rx.close();
    }
  });

  test('a receiver that stays down keeps the samples queued until it answers; past the bound the oldest go', async () => {
    const rx = await receiver([503, 503, 503, 204, 204]);
    const f = await forwarder({ url: rx.url, retryBaseMs: 5, maxAttempts: 3, maxQueuedSamples: 3 });
    try {
      const t = Date.now();
      const sample = (v: number) => ({
        class: 'sli' as const,
        name: 'requests_total',
        bundle: 'pos',
        t: t + v,
        v,
      });
      await f.enqueue('store-1', [sample(1), sample(2)]);
      await f.writer.flush();
      assert.equal(rx.seen.length, 3, 'three attempts');
      assert.equal(await f.writer.queued(), 2, 'nothing lost while the receiver was down');

      // two more batches: 5 samples queued over a bound of 3, so the oldest batch goes
      await f.enqueue('store-2', [sample(3)]);
      await f.enqueue('store-3', [sample(4), sample(5)]);
      await f.writer.flush();
      assert.equal(await f.writer.queued(), 0);
      assert.match(await f.counts(), /result="dropped"} 2/);
      assert.match(await f.counts(), /result="sent"} 3/);
      const sent = new TextDecoder().decode(snappyDecompress(rx.seen[3]!.body));
      assert.ok(sent.includes('store-2') && sent.includes('store-3') && !sent.includes('store-1'), sent);
    } finally {
      await f.ctx.close();
      rx.close();
    }
  });
});
