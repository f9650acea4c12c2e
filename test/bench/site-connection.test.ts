// The load generator's lean site client against a real HTTPS server that asks for client certificates:
// it presents the site's certificate, reads the answers the hub gives, and refuses a server the CA did not sign.

import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { SiteConnection, trustOf } from '../../bench/site-connection.ts';
import { createCa, issueCertificate } from '../../src/pki/authority.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';

const now = Date.now();
const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 86400_000) };
const ca = createCa({ commonName: 'site CA', ...validity });
const siteKeys = generateKeyPair();
const siteCert = issueCertificate(ca, {
  publicKeyPem: siteKeys.publicKeyPem,
  commonName: 'site-1',
  usage: 'client',
  ...validity,
}).certPem;

function serverWith(authority: typeof ca) {
  const keys = generateKeyPair();
  const cert = issueCertificate(authority, {
    publicKeyPem: keys.publicKeyPem,
    commonName: '127.0.0.1',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    ...validity,
  }).certPem;
  return https.createServer(
    { key: keys.privateKeyPem, cert, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const who = (req.socket as TLSSocket).getPeerX509Certificate()?.subject ?? '';
      if (req.url === '/desired' && req.headers['if-none-match'] === '"d1"') {
        // as a framework may: a length for the body a 304 never sends
        res.writeHead(304, { etag: '"d1"', 'content-length': '42' }).end();
      } else if (req.url === '/desired') {
        res.writeHead(200, { etag: '"d1"', 'content-type': 'application/json' });
        res.end(JSON.stringify({ who }));
      } else {
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c.toString();
        });
        // no content-length: a chunked answer, written in two parts
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(body.slice(0, 3));
          res.end(body.slice(3));
        });
      }
    },
  );
}

const server = serverWith(ca);
before(() => new Promise<void>((r) => server.listen(0, '127.0.0.1', r)));
after(() => new Promise<void>((r) => server.close(() => r())));
const url = () => `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

test('a site presents its own certificate and reads 200, a 304 with a length, and a chunked answer on one connection', async () => {
  const site = new SiteConnection(
    trustOf({ url: url(), ca: ca.certPem, key: siteKeys.privateKeyPem }),
    siteCert,
  );
  try {
    const first = await site.request('GET', '/desired', { timeoutMs: 5000 });
    assert.equal(first.status, 200);
    assert.equal(first.etag, '"d1"');
    assert.match(JSON.parse(first.body).who, /CN=site-1/);
    const unchanged = await site.request('GET', '/desired', { ifNoneMatch: '"d1"', timeoutMs: 5000 });
    assert.deepEqual([unchanged.status, unchanged.body], [304, '']);
    const report = JSON.stringify({ seq: 1, deployments: [] });
    const echoed = await site.request('POST', '/report', { body: report, timeoutMs: 5000 });
    assert.deepEqual([echoed.status, echoed.body], [200, report]);
  } finally {
    site.close();
  }
});

test('a server whose certificate another CA signed is refused', async () => {
  const other = serverWith(createCa({ commonName: 'other CA', ...validity }));
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const port = (other.address() as AddressInfo).port;
  const site = new SiteConnection(
    trustOf({ url: `https://127.0.0.1:${port}`, ca: ca.certPem, key: siteKeys.privateKeyPem }),
    siteCert,
  );
  try {
    await assert.rejects(site.request('GET', '/desired', { timeoutMs: 5000 }), /not signed by the CA/);
  } finally {
    site.close();
    await new Promise<void>((r) => other.close(() => r()));
  }
});
