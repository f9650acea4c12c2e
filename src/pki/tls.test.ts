// Real mutual-TLS handshakes over node:https with certificates from this module: the server accepts a client cert
// from its CA, refuses others, and sees the serial we recorded at issue time.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { createCa, type IssuedCertificate, issueCertificate } from './authority.ts';
import { createCsr, verifyCsr } from './csr.ts';
import { generateKeyPair } from './keys.ts';

const HOUR = 3600_000;
const now = Date.now();
const validity = { notBefore: new Date(now - HOUR), notAfter: new Date(now + 24 * HOUR) };
const ca = createCa({ commonName: 'Outpost hub CA', ...validity });
const foreignCa = createCa({ commonName: 'Outpost hub CA', ...validity });

const serverKey = generateKeyPair();
const server = issueCertificate(ca, {
  publicKeyPem: serverKey.publicKeyPem,
  commonName: 'outpost-hub',
  ipAddresses: ['127.0.0.1'],
  dnsNames: ['localhost'],
  usage: 'server',
  ...validity,
});

interface Client {
  key: string;
  cert: IssuedCertificate;
}

function client(authority = ca, usage: 'client' | 'server' = 'client', name = 'site-1'): Client {
  const kp = generateKeyPair();
  // the registration path: CSR from the site, verified and signed by the hub
  const csr = verifyCsr(createCsr({ commonName: name, keyPem: kp.privateKeyPem }));
  const cert = issueCertificate(authority, {
    ...csr,
    uris: [`spiffe://outpost/sites/${name}`],
    usage,
    ...validity,
  });
  return { key: kp.privateKeyPem, cert };
}

interface Seen {
  authorized: boolean;
  serialNumber: string;
  subjectCn: string;
}

let hub: https.Server;
let port = 0;
let handled = 0;

before(async () => {
  hub = https.createServer(
    {
      key: serverKey.privateKeyPem,
      cert: server.certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      handled++;
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      const seen: Seen = {
        authorized: socket.authorized,
        serialNumber: peer.serialNumber,
        subjectCn: String(peer.subject.CN),
      };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
    },
  );
  hub.listen(0, '127.0.0.1');
  await once(hub, 'listening');
  port = (hub.address() as AddressInfo).port;
});

after(async () => {
  hub.closeAllConnections();
  hub.close();
  await once(hub, 'close');
});

function request(opts: {
  key?: string;
  cert?: string;
  ca?: string;
}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/', method: 'GET', agent: false, ca: ca.certPem, ...opts },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('mutual TLS with issued certificates', () => {
  test('a client cert from the CA is accepted, and the server sees the issued serial', async () => {
    const c = client();
    const before = handled;
    const res = await request({ key: c.key, cert: c.cert.certPem });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body) as Seen;
    assert.equal(seen.authorized, true);
    assert.equal(seen.subjectCn, 'site-1');
    // node reports upper-case hex; we store the same digits in lower case
    assert.equal(seen.serialNumber, c.cert.serialHex.toUpperCase());
    assert.equal(seen.serialNumber.toLowerCase(), c.cert.serialHex);
    assert.equal(handled, before + 1);
  });

  test('a chosen short serial comes through the handshake normalized the same way', async () => {
    const kp = generateKeyPair();
    const cert = issueCertificate(ca, {
      publicKeyPem: kp.publicKeyPem,
      commonName: 'site-serial',
      usage: 'client',
      serialHex: '00000abc',
      ...validity,
    });
    assert.equal(cert.serialHex, '0abc');
    const seen = JSON.parse((await request({ key: kp.privateKeyPem, cert: cert.certPem })).body) as Seen;
    assert.equal(seen.serialNumber.toLowerCase(), cert.serialHex);
  });

  test('a client cert from another CA (same CA name) is refused', async () => {
    const c = client(foreignCa);
    const before = handled;
    await assert.rejects(request({ key: c.key, cert: c.cert.certPem }), (err: NodeJS.ErrnoException) => {
      assert.match(`${err.code} ${err.message}`, /ECONNRESET|alert|unknown ca|certificate|socket hang up/i);
      return true;
    });
    assert.equal(handled, before);
  });

  test('a client without a certificate is refused', async () => {
    const before = handled;
    await assert.rejects(request({}));
    assert.equal(handled, before);
  });

  test('a server-usage cert presented as a client cert is refused (EKU is enforced)', async () => {
    const c = client(ca, 'server', 'site-wrong-usage');
    const before = handled;
    await assert.rejects(request({ key: c.key, cert: c.cert.certPem }));
    assert.equal(handled, before);
  });

  test('the client refuses the hub when it trusts another CA', async () => {
    const c = client();
    await assert.rejects(
      request({ key: c.key, cert: c.cert.certPem, ca: foreignCa.certPem }),
      (err: NodeJS.ErrnoException) => {
        assert.match(
          String(err.code),
          /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED|CERT_SIGNATURE_FAILURE/,
        );
        return true;
      },
    );
  });
});
