// A stand-in for the hub's telemetry route (POST /agent/v1/sites/:siteId/telemetry): real HTTPS with mTLS,
// gzip bodies checked against the TelemetryBatch schema, ingest once per batchId, answers TelemetryAck. The
// hub's own route is built on another branch; the lead adds an end-to-end test against it after merging.

import assert from 'node:assert/strict';
import https from 'node:https';
import { gunzipSync } from 'node:zlib';
import { Value } from 'typebox/value';
import { HubClient } from '../../src/agent/hub-client.ts';
import { ephemeralTls } from '../../src/hub/identity/ca.ts';
import { TelemetryBatch } from '../../src/model/telemetry.ts';
import { issueCertificate } from '../../src/pki/authority.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';

/**
 * What a request meets: stored and acknowledged; 503; stored but the answer lost; 422 (the batch is
 * refused as invalid); 400 without reading it (what a hub older than the telemetry route answers).
 */
export type Mode = 'ok' | 'unavailable' | 'loseAck' | 'invalid' | 'unreadable';

export interface Receiver {
  url: string;
  client: HubClient;
  /** what each next request meets; 'ok' once the list is used up */
  modes: Mode[];
  /** while true, every connection is cut at once: the hub is out of reach */
  down: boolean;
  batches: Map<string, TelemetryBatch>;
  requests: Array<{ batchId: string; encoding: string | undefined; path: string; mode: Mode }>;
  close(): Promise<void>;
}

export async function telemetryReceiver(): Promise<Receiver> {
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
  const r = { modes: [] as Mode[], down: false, batches: new Map(), requests: [] } as unknown as Receiver;
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
        if (r.down) return req.socket.destroy();
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
          return reply(422, { error: { code: 'request_invalid', message: 'bad sample' } });
        if (mode === 'unreadable')
          return reply(400, { error: { code: 'request_invalid', message: 'Body is not valid JSON' } });
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
