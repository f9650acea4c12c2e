// The CA and the certificates it issues, read by node:crypto's own X.509 parser (OpenSSL underneath):
// extensions, chains, validity, names and keys, and the refusal of every bad input.

import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { backdatedValidity, createCa } from './authority.ts';
import { certificateInfo, fingerprintSha256 } from './certificate.ts';
import * as der from './der.ts';
import {
  assertPkiError,
  ca,
  caX509,
  derToPem,
  HOUR,
  issue,
  now,
  otherCa,
  pemToDer,
  site,
} from './test-fixture.ts';

describe('createCa, read by node:crypto X509Certificate', () => {
  test('self-signed CA with CN subject and issuer', () => {
    assert.equal(caX509.subject, 'CN=Outpost test CA');
    assert.equal(caX509.issuer, 'CN=Outpost test CA');
    assert.equal(caX509.ca, true);
    assert.ok(caX509.checkIssued(caX509));
    assert.ok(caX509.verify(caX509.publicKey));
    assert.ok(!caX509.verify(new X509Certificate(otherCa.certPem).publicKey));
    assert.equal(caX509.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(caX509.validFromDate.getTime(), Math.floor((now.getTime() - HOUR) / 1000) * 1000);
    assert.ok(createPublicKey(ca.keyPem).equals(caX509.publicKey));
  });

  test('extensions are BasicConstraints CA:TRUE pathLen 0 and KeyUsage keyCertSign|cRLSign, both critical, and SKI', () => {
    const cert = der.children(der.decodeOne(pemToDer(ca.certPem)));
    const tbs = der.children(cert[0]!);
    const exts = der.children(der.children(tbs[tbs.length - 1]!)[0]!).map((e) => der.children(e));
    const byOid = new Map(exts.map((parts) => [der.readOid(parts[0]!), parts]));
    const bc = byOid.get('2.5.29.19')!;
    assert.equal(der.readBoolean(bc[1]!), true);
    assert.equal(Buffer.from(der.readOctetString(bc[2]!)).toString('hex'), '30060101ff020100');
    const ku = byOid.get('2.5.29.15')!;
    assert.equal(der.readBoolean(ku[1]!), true);
    assert.equal(Buffer.from(der.readOctetString(ku[2]!)).toString('hex'), '03020106');
    assert.ok(byOid.has('2.5.29.14'));
  });

  test('refuses bad names and dates', () => {
    const ok = { commonName: 'x', notBefore: new Date(), notAfter: new Date(Date.now() + HOUR) };
    assertPkiError(() => createCa({ ...ok, commonName: '' }), 'certificate_invalid', /empty/);
    assertPkiError(() => createCa({ ...ok, notAfter: ok.notBefore }), 'certificate_invalid', /later/);
    assertPkiError(
      () => createCa({ ...ok, notBefore: new Date(Number.NaN) }),
      'certificate_invalid',
      /valid Date/,
    );
  });
});

describe('issueCertificate, read by node:crypto X509Certificate', () => {
  const issued = issue();
  const x = new X509Certificate(issued.certPem);

  test('subject, issuer, SAN, CA flag', () => {
    assert.equal(x.subject, 'CN=site-1');
    assert.equal(x.issuer, caX509.subject);
    assert.equal(
      x.subjectAltName,
      'DNS:site-1.sites.outpost.example, URI:spiffe://outpost/sites/site-1, IP Address:127.0.0.1',
    );
    assert.equal(x.ca, false);
    assert.ok(createPublicKey(site.publicKeyPem).equals(x.publicKey));
  });

  test('chains to the CA and to no other', () => {
    assert.ok(x.checkIssued(caX509));
    assert.ok(x.verify(caX509.publicKey));
    const other = new X509Certificate(otherCa.certPem);
    assert.ok(!x.checkIssued(other));
    assert.ok(!x.verify(other.publicKey));
    const fromOther = new X509Certificate(issue({}, otherCa).certPem);
    assert.ok(!fromOther.verify(caX509.publicKey));
    assert.ok(fromOther.verify(other.publicKey));
  });

  test('validity is what was asked, to the second; notAfter is reported as encoded', () => {
    const notBefore = new Date('2026-01-02T03:04:05.678Z');
    const notAfter = new Date('2027-01-02T03:04:05.999Z');
    const c = issue({ notBefore, notAfter });
    const cx = new X509Certificate(c.certPem);
    assert.equal(cx.validFromDate.toISOString(), '2026-01-02T03:04:05.000Z');
    assert.equal(cx.validToDate.toISOString(), '2027-01-02T03:04:05.000Z');
    assert.equal(c.notAfter.toISOString(), '2027-01-02T03:04:05.000Z');
  });

  test('dates past 2049 use GeneralizedTime and still read back', () => {
    const c = issue({ notAfter: new Date('2051-06-01T00:00:00Z') });
    assert.equal(new X509Certificate(c.certPem).validToDate.toISOString(), '2051-06-01T00:00:00.000Z');
    assert.equal(certificateInfo(c.certPem).notAfter.toISOString(), '2051-06-01T00:00:00.000Z');
  });

  test('EKU clientAuth for client usage, serverAuth for server usage', () => {
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.deepEqual(new X509Certificate(issue({ usage: 'server' }).certPem).keyUsage, ['1.3.6.1.5.5.7.3.1']);
  });

  test('fingerprint matches node, and fingerprintSha256() agrees', () => {
    assert.equal(issued.fingerprintSha256, x.fingerprint256.replaceAll(':', '').toLowerCase());
    assert.equal(fingerprintSha256(issued.certPem), issued.fingerprintSha256);
    assert.match(issued.fingerprintSha256, /^[0-9a-f]{64}$/);
  });

  test('SAN is left out when there are no names; IPv6 addresses are encoded', () => {
    const bare = new X509Certificate(issue({ uris: [], dnsNames: [], ipAddresses: [] }).certPem);
    assert.equal(bare.subjectAltName, undefined);
    const v6 = new X509Certificate(
      issue({ uris: [], dnsNames: [], ipAddresses: ['::1', 'fe80::1:2', '::ffff:10.0.0.1'] }).certPem,
    );
    assert.equal(
      v6.subjectAltName,
      'IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:FFFF:A00:1',
    );
    assert.ok(v6.checkIP('::1'));
    assert.ok(new X509Certificate(issue().certPem).checkIP('127.0.0.1'));
  });

  test('the CA cached for one object is not reused for a different CA object', () => {
    const a = issue({}, ca);
    const b = issue({}, otherCa);
    assert.ok(new X509Certificate(a.certPem).checkIssued(caX509));
    assert.ok(new X509Certificate(b.certPem).checkIssued(new X509Certificate(otherCa.certPem)));
    const mutable = { ...ca };
    issue({}, mutable);
    mutable.certPem = otherCa.certPem;
    mutable.keyPem = otherCa.keyPem;
    assert.ok(
      new X509Certificate(issue({}, mutable).certPem).checkIssued(new X509Certificate(otherCa.certPem)),
    );
  });
});

describe('issueCertificate refuses bad input', () => {
  test('names', () => {
    assertPkiError(() => issue({ commonName: '' }), 'certificate_invalid', /empty/);
    assertPkiError(() => issue({ commonName: 'x'.repeat(65) }), 'certificate_invalid', /64/);
    assert.equal(
      new X509Certificate(issue({ commonName: 'é'.repeat(64) }).certPem).subject,
      `CN=${'é'.repeat(64)}`,
    );
    assertPkiError(() => issue({ commonName: 'a\nb' }), 'certificate_invalid', /control/);
    assertPkiError(() => issue({ ipAddresses: ['127.0.0.256'] }), 'certificate_invalid', /IP/);
    assertPkiError(() => issue({ ipAddresses: ['fe80::1%eth0'] }), 'certificate_invalid', /IP/);
    assertPkiError(() => issue({ dnsNames: ['bad name'] }), 'certificate_invalid', /DNS/);
    assertPkiError(() => issue({ dnsNames: ['a..b'] }), 'certificate_invalid', /DNS/);
    assertPkiError(() => issue({ uris: ['no-scheme'] }), 'certificate_invalid', /URI/);
    assertPkiError(() => issue({ uris: ['spiffe://a b'] }), 'certificate_invalid', /URI/);
    assertPkiError(() => issue({ usage: 'both' as 'client' }), 'certificate_invalid', /usage/);
  });

  test('dates', () => {
    assertPkiError(
      () => issue({ notAfter: new Date(now.getTime() - 2 * 60_000) }),
      'certificate_invalid',
      /later/,
    );
    assertPkiError(
      () => issue({ notAfter: new Date('+010000-01-01T00:00:00Z') }),
      'certificate_invalid',
      /9999/,
    );
  });

  test('keys: not a public key, wrong algorithm or curve, a private key', () => {
    assertPkiError(() => issue({ publicKeyPem: 'nope' }), 'key_invalid');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    assertPkiError(() => issue({ publicKeyPem: rsa as string }), 'key_invalid', /unsupported key algorithm/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    assertPkiError(() => issue({ publicKeyPem: p384 as string }), 'key_invalid', /curve/);
    assertPkiError(() => issue({ publicKeyPem: site.privateKeyPem }), 'key_invalid');
    // a point that is not on the curve
    const spki = pemToDer(site.publicKeyPem);
    spki[spki.length - 1]! ^= 1;
    assertPkiError(() => issue({ publicKeyPem: derToPem('PUBLIC KEY', spki) }), 'key_invalid', /point/);
  });

  test('a CA whose key does not match, or whose certificate is not a CA', () => {
    assertPkiError(() => issue({}, { certPem: ca.certPem, keyPem: otherCa.keyPem }), 'key_invalid', /match/);
    const leaf = issue();
    assertPkiError(
      () => issue({}, { certPem: leaf.certPem, keyPem: site.privateKeyPem }),
      'certificate_invalid',
      /CA:TRUE/,
    );
    assertPkiError(() => issue({}, { certPem: 'x', keyPem: ca.keyPem }), 'certificate_invalid');
    assertPkiError(() => issue({}, { certPem: ca.certPem, keyPem: 'x' }), 'key_invalid');
  });
});

describe('backdatedValidity', () => {
  const now = new Date('2026-12-05T12:00:00.000Z');
  test('a month-long certificate starts an hour early, so a peer ten minutes behind accepts it', () => {
    const v = backdatedValidity(now, 30 * 86400_000);
    assert.equal(v.notBefore.toISOString(), '2026-12-05T11:00:00.000Z');
    assert.equal(v.notAfter.toISOString(), '2027-01-04T12:00:00.000Z');
  });
  test('a short-lived one by a tenth of its life at most: renewal at two thirds stays ahead', () => {
    const v = backdatedValidity(now, 90_000);
    assert.equal(now.getTime() - v.notBefore.getTime(), 9_000);
    const renewAt = v.notBefore.getTime() + ((v.notAfter.getTime() - v.notBefore.getTime()) * 2) / 3;
    assert.ok(renewAt > now.getTime(), 'renewal is not due at issue');
  });
});
