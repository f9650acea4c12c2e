// The sender against a real HTTPS receiver with mTLS that records what arrives. The hub's own telemetry
// route (POST /agent/v1/sites/:siteId/telemetry) is built on another branch; an end-to-end test against
// the real hub follows the merge. This receiver keeps the contract: gzip body, TelemetryBatch, an ack.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Value } from 'typebox/value';
import { ephemeralTls } from '../../hub/identity/ca.ts';
import { TelemetryBatch } from '../../model/telemetry.ts';
import { generateKeyPair, issueCertificate } from '../../pki/pki.ts';
import { HubClient } from '../hub-client.ts';
import { TelemetryBuffer } from './buffer.ts';
import { TelemetrySender } from './sender.ts';

type Mode = 'ok' | 'unavailable' | 'loseAck' | 'invalid';

interface Receiver {
  url: string;
  client: HubClient;
  /** what each next request meets; 'ok' once the list is used up */
  modes: Mode[];
  batches: Map<string, TelemetryBatch>;
  requests: Array<{ batchId: string; encoding: string | undefined; path: string; mode: Mode }>;
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const now = new Date();
  const tls = ephemeralTls(now);
  const keys = generateKeyPair();
  const clientCert = issueCertificate(tls.ca, {
    publicKeyPem: keys.publicKeyPem,
    commonName: 'site-1',
    usage: 'client',
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 3600_000),
  });
  const r = { modes: [] as Mode[], batches: new Map(), requests: [] } as unknown as Receiver;
  const server = https.createServer(
    {
      key: tls.serverKeyPem,
      cert: tls.serverCertPem,
      ca: tls.ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const mode = r.modes.shift() ?? 'ok';
        const body = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as TelemetryBatch;
        assert.ok(Value.Check(TelemetryBatch, body), 'the body is a TelemetryBatch');
        r.requests.push({
          batchId: body.batchId,
          encoding: req.headers['content-encoding'],
          path: req.url ?? '',
          mode,
        });
        const reply = (status: number, value: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        if (mode === 'unavailable')
          return reply(503, { error: { code: 'unavailable', message: 'try later' } });
        if (mode === 'invalid')
          return reply(400, { error: { code: 'telemetry_invalid', message: 'bad sample' } });
        const fresh = !r.batches.has(body.batchId);
        if (fresh) r.batches.set(body.batchId, body);
        if (mode === 'loseAck') return res.socket?.destroy(); // stored, but the answer never arrives
        reply(200, { accepted: fresh });
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  r.url = `https://127.0.0.1:${port}`;
  r.client = new HubClient(
    r.url,
    tls.ca.certPem,
    { certPem: clientCert.certPem, keyPem: keys.privateKeyPem },
    'site-1',
  );
  r.close = async () => {
    r.client.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return r;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-sender-'));
  const hub = await receiver();
  const buffer = await TelemetryBuffer.open(dir, { segmentBytes: 4096 });
  const abort = new AbortController();
  const sender = new TelemetrySender(
    buffer,
    { send: (gz, signal) => hub.client.telemetry(gz, signal) },
    { flushMs: 20, backoffBaseMs: 5, backoffMaxMs: 20 },
  );
  const running = sender.run(abort.signal);
  t.after(async () => {
    abort.abort();
    await running;
    await buffer.close();
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { hub, buffer, sender };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test('batches go gzipped over mTLS, are resent with the same id after failures and a lost ack, and arrive once', async (t) => {
  const { hub, buffer, sender } = await setup(t);
  hub.modes.push('unavailable', 'unavailable', 'loseAck');
  for (let i = 0; i < 200; i++)
    await buffer.append(i % 2 ? 'metric' : 'sli', {
      class: i % 2 ? 'metric' : 'sli',
      name: 'requests_total',
      bundle: 'pos',
      t: 1_700_000_000_000 + i,
      d: 30_000,
      v: i,
    });
  await buffer.append('event', {
    t: 1_700_000_000_000,
    type: 'Warning',
    object: 'Pod pos/till-0',
    reason: 'BackOff',
    message: 'restarting',
  });
  sender.wake();
  await until('everything sent', () => buffer.stats().bytes === 0 && sender.stats().batchesSent > 0);

  const first = hub.requests.slice(0, 4).map((r) => r.batchId);
  assert.equal(new Set(first).size, 1, 'the same batch, with the same id, until acknowledged');
  assert.ok(
    hub.requests.every((r) => r.encoding === 'gzip' && r.path === '/agent/v1/sites/site-1/telemetry'),
  );
  const values = [...hub.batches.values()].flatMap((b) => b.samples.map((s) => s.v));
  assert.deepEqual(
    [...values].sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i),
  );
  // SLIs before events before metrics
  const order = [...hub.batches.values()].map((b) => (b.events.length ? 'event' : b.samples[0]!.class));
  assert.deepEqual(
    order,
    [...order].sort((a, b) => ['sli', 'event', 'metric'].indexOf(a) - ['sli', 'event', 'metric'].indexOf(b)),
  );
  assert.ok(sender.stats().bytesSent < sender.stats().rawBytesSent, 'compressed on the wire');
  assert.equal(sender.stats().lastError, null);
});

test('a batch the hub calls invalid is dropped and counted, and the uplink goes on', async (t) => {
  const { hub, buffer, sender } = await setup(t);
  hub.modes.push('invalid');
  await buffer.append('sli', { class: 'sli', name: 'saturation', bundle: 'pos', t: 1, v: 0.5 });
  sender.wake();
  await until('the refusal', () => sender.stats().refused === 1);
  await buffer.append('sli', { class: 'sli', name: 'saturation', bundle: 'pos', t: 2, v: 0.6 });
  sender.wake();
  await until('the next batch', () => hub.batches.size === 1);
  const [batch] = [...hub.batches.values()];
  assert.deepEqual(
    batch!.dropped,
    { sli: 1, event: 0, metric: 0, debug: 0 },
    'the drop is reported upstream',
  );
  assert.match(buffer.stats().problems.at(-1)!.message, /refused telemetry batch .*bad sample/);
});
