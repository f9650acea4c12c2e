// Tests for the PKI module against node:crypto's own X.509 parser (OpenSSL underneath): CA and issued
// certificates, serial normalization, CSR verification and its refusals, and input validation.

import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import * as der from './der.ts';
import {
  type CertificateAuthority,
  certificateInfo,
  createCa,
  createCsr,
  fingerprintSha256,
  generateKeyPair,
  type IssueOptions,
  issueCertificate,
  normalizeSerialHex,
  PkiError,
  verifyCsr,
} from './pki.ts';

const HOUR = 3600_000;
const now = new Date();
const caValidity = {
  notBefore: new Date(now.getTime() - HOUR),
  notAfter: new Date(now.getTime() + 10 * 365 * 24 * HOUR),
};
const ca = createCa({ commonName: 'Outpost test CA', ...caValidity });
const otherCa = createCa({ commonName: 'Someone else', ...caValidity });
const caX509 = new X509Certificate(ca.certPem);
const site = generateKeyPair();

function issue(overrides: Partial<IssueOptions> = {}, authority: CertificateAuthority = ca) {
  return issueCertificate(authority, {
    publicKeyPem: site.publicKeyPem,
    commonName: 'site-1',
    uris: ['spiffe://outpost/sites/site-1'],
    dnsNames: ['site-1.sites.outpost.example'],
    ipAddresses: ['127.0.0.1'],
    usage: 'client',
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 30 * 24 * HOUR),
    ...overrides,
  });
}

function assertPkiError(fn: () => unknown, code: PkiError['code'], message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PkiError, `expected PkiError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function derToPem(label: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;
}

describe('generateKeyPair', () => {
  test('gives a P-256 PKCS#8 private key and its SPKI public key', () => {
    const kp = generateKeyPair();
    assert.match(kp.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(kp.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    const pub = createPublicKey(kp.publicKeyPem);
    assert.equal(pub.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(pub.equals(createPublicKey(kp.privateKeyPem)));
    assert.notEqual(generateKeyPair().privateKeyPem, kp.privateKeyPem);
  });
});

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

describe('serial numbers', () => {
  test('default serials are 16 bytes, positive, lower-case, unique, and equal node serialNumber', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const c = issue();
      assert.match(c.serialHex, /^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);
      assert.equal(new X509Certificate(c.certPem).serialNumber.toLowerCase(), c.serialHex);
      seen.add(c.serialHex);
    }
    assert.equal(seen.size, 200);
  });

  const cases: Array<[string, string]> = [
    ['1', '01'],
    ['01', '01'],
    ['00ff', 'ff'],
    ['FF', 'ff'],
    ['0100', '0100'],
    ['abcDEF', 'abcdef'],
    ['80', '80'],
    [`7f${'00'.repeat(19)}`, `7f${'00'.repeat(19)}`],
  ];
  for (const [input, normalized] of cases) {
    test(`serial ${input} is stored as ${normalized}, as node reports it`, () => {
      assert.equal(normalizeSerialHex(input), normalized);
      const c = issue({ serialHex: input });
      assert.equal(c.serialHex, normalized);
      assert.equal(new X509Certificate(c.certPem).serialNumber, normalized.toUpperCase());
      assert.equal(certificateInfo(c.certPem).serialHex, normalized);
    });
  }

  test('unusable serials are refused', () => {
    for (const bad of ['', '0', '0000', 'xyz', '-1', '0x10', `80${'00'.repeat(19)}`, '01'.repeat(21)]) {
      assertPkiError(() => issue({ serialHex: bad }), 'certificate_invalid', /serial/);
    }
  });
});

describe('certificateInfo', () => {
  test('reports what was issued and agrees with X509Certificate', () => {
    const c = issue({ uris: ['spiffe://outpost/sites/a', 'https://example.com/x'] });
    const info = certificateInfo(c.certPem);
    const x = new X509Certificate(c.certPem);
    assert.deepEqual(info, {
      serialHex: c.serialHex,
      notBefore: x.validFromDate,
      notAfter: c.notAfter,
      commonName: 'site-1',
      uris: ['spiffe://outpost/sites/a', 'https://example.com/x'],
      fingerprintSha256: c.fingerprintSha256,
    });
    assert.equal(certificateInfo(ca.certPem).commonName, 'Outpost test CA');
    assert.deepEqual(certificateInfo(ca.certPem).uris, []);
  });

  test('refuses what is not a certificate', () => {
    assertPkiError(() => certificateInfo('hello'), 'certificate_invalid', /not PEM/);
    assertPkiError(
      () => certificateInfo(createCsr({ commonName: 'x', keyPem: site.privateKeyPem })),
      'certificate_invalid',
    );
    assertPkiError(() => certificateInfo(derToPem('CERTIFICATE', der.sequence())), 'certificate_invalid');
    assertPkiError(
      () => fingerprintSha256(derToPem('CERTIFICATE', Uint8Array.of(1, 2, 3))),
      'certificate_invalid',
    );
  });

  test('fuzz: mutated certificates give a result or a PkiError, never anything else', {
    timeout: 60_000,
  }, () => {
    const valid = pemToDer(issue().certPem);
    const mutation = fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 3,
    });
    fc.assert(
      fc.property(mutation, (changes) => {
        const bytes = Buffer.from(valid);
        for (const [at, value] of changes) bytes[at] = value;
        try {
          certificateInfo(derToPem('CERTIFICATE', bytes));
        } catch (err) {
          if (!(err instanceof PkiError)) throw err;
        }
      }),
      { numRuns: 1500 },
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

// --- CSRs -------------------------------------------------------------------------------------------------------

/** A CSR assembled by hand, to exercise what createCsr never produces. */
function handmadeCsr(opts: {
  key: KeyObject;
  subject?: Uint8Array;
  spki?: Uint8Array;
  sigAlg?: string;
  hash?: string;
  attributes?: Uint8Array;
}): string {
  const spki = opts.spki ?? createPublicKey(opts.key).export({ type: 'spki', format: 'der' });
  const subject =
    opts.subject ?? der.sequence(der.set(der.sequence(der.oid('2.5.4.3'), der.utf8String('handmade'))));
  const info = der.sequence(der.smallInteger(0), subject, spki, opts.attributes ?? der.explicit(0));
  const signature = sign(opts.hash ?? 'sha256', info, { key: opts.key, dsaEncoding: 'der' });
  const csr = der.sequence(
    info,
    der.sequence(der.oid(opts.sigAlg ?? '1.2.840.10045.4.3.2')),
    der.bitString(signature),
  );
  return derToPem('CERTIFICATE REQUEST', csr);
}

describe('createCsr and verifyCsr', () => {
  const csr = createCsr({ commonName: 'site-7', keyPem: site.privateKeyPem });

  test('round trip gives the CN and the public key', () => {
    assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const v = verifyCsr(csr);
    assert.equal(v.commonName, 'site-7');
    assert.equal(v.publicKeyPem, site.publicKeyPem);
    const c = issueCertificate(ca, {
      ...v,
      usage: 'client',
      notBefore: now,
      notAfter: new Date(now.getTime() + HOUR),
    });
    assert.ok(new X509Certificate(c.certPem).verify(caX509.publicKey));
  });

  test('a handmade CSR with attributes and a multi-RDN subject verifies', () => {
    const key = createPrivateKeyObject();
    const subject = der.sequence(
      der.set(der.sequence(der.oid('2.5.4.6'), der.printableString('DE'))),
      der.set(der.sequence(der.oid('2.5.4.3'), der.printableString('site-9'))),
    );
    const attributes = der.explicit(
      0,
      der.sequence(der.oid('1.2.840.113549.1.9.14'), der.set(der.sequence())),
    );
    assert.equal(verifyCsr(handmadeCsr({ key, subject, attributes })).commonName, 'site-9');
  });

  test('a tampered signature is refused', () => {
    const bytes = pemToDer(csr);
    bytes[bytes.length - 1]! ^= 0x01; // last byte of s: still well-formed DER
    assertPkiError(
      () => verifyCsr(derToPem('CERTIFICATE REQUEST', bytes)),
      'csr_invalid',
      /signature does not verify/,
    );
  });

  test('a tampered subject is refused', () => {
    const bytes = pemToDer(csr);
    const at = bytes.indexOf(Buffer.from('site-7'));
    assert.ok(at > 0);
    bytes[at + 5] = '8'.charCodeAt(0);
    assertPkiError(
      () => verifyCsr(derToPem('CERTIFICATE REQUEST', bytes)),
      'csr_invalid',
      /signature does not verify/,
    );
  });

  test('a signature by another key is refused', () => {
    const bytes = pemToDer(csr);
    const other = pemToDer(createCsr({ commonName: 'site-7', keyPem: generateKeyPair().privateKeyPem }));
    const sigOf = (b: Buffer) => der.children(der.decodeOne(b))[2]!.encoded;
    const forged = Buffer.concat([
      der.children(der.decodeOne(bytes))[0]!.encoded,
      der.children(der.decodeOne(bytes))[1]!.encoded,
      sigOf(other),
    ]);
    assertPkiError(
      () => verifyCsr(derToPem('CERTIFICATE REQUEST', der.sequence(forged))),
      'csr_invalid',
      /signature/,
    );
  });

  test('garbage, non-PEM, wrong label, bad base64, oversize', () => {
    assertPkiError(() => verifyCsr('garbage'), 'csr_invalid', /not PEM/);
    assertPkiError(() => verifyCsr(''), 'csr_invalid', /not PEM/);
    assertPkiError(() => verifyCsr(42 as unknown as string), 'csr_invalid', /string/);
    assertPkiError(() => verifyCsr(pemToDer(csr).toString('base64')), 'csr_invalid', /not PEM/);
    assertPkiError(() => verifyCsr(issue().certPem), 'csr_invalid', /CERTIFICATE REQUEST/);
    assertPkiError(() => verifyCsr(csr.replace(/\n-----END/, '!\n-----END')), 'csr_invalid', /base64/);
    assertPkiError(() => verifyCsr(csr + csr), 'csr_invalid', /more than one/);
    assertPkiError(() => verifyCsr(csr.replace(/-----END.*\n$/, '')), 'csr_invalid', /END/);
    assertPkiError(
      () => verifyCsr(derToPem('CERTIFICATE REQUEST', Buffer.from('random garbage bytes'))),
      'csr_invalid',
    );
    assertPkiError(() => verifyCsr(csr + ' '.repeat(8 * 1024)), 'csr_invalid', /larger than 8192/);
    // text around a single block is allowed (RFC 7468), as long as the whole stays under the limit
    assert.equal(verifyCsr(`Subject: site-7\n${csr}\ntrailer`).commonName, 'site-7');
  });

  test('trailing bytes after the DER are refused', () => {
    const bytes = Buffer.concat([pemToDer(csr), Buffer.of(0)]);
    assertPkiError(() => verifyCsr(derToPem('CERTIFICATE REQUEST', bytes)), 'csr_invalid', /trailing/);
  });

  test('other algorithms, curves and hashes are refused with a clear reason', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    assertPkiError(
      () => verifyCsr(handmadeCsr({ key: rsa, sigAlg: '1.2.840.113549.1.1.11' })),
      'csr_invalid',
      /unsupported key algorithm/,
    );
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    assertPkiError(() => verifyCsr(handmadeCsr({ key: p384 })), 'csr_invalid', /unsupported curve/);
    const key = createPrivateKeyObject();
    assertPkiError(
      () => verifyCsr(handmadeCsr({ key, sigAlg: '1.2.840.10045.4.3.3', hash: 'sha384' })),
      'csr_invalid',
      /unsupported signature algorithm/,
    );
    // declared SHA-256 but signed over SHA-384
    assertPkiError(() => verifyCsr(handmadeCsr({ key, hash: 'sha384' })), 'csr_invalid', /does not verify/);
  });

  test('subjects without exactly one acceptable CN are refused', () => {
    const key = createPrivateKeyObject();
    const cn = (v: string) => der.set(der.sequence(der.oid('2.5.4.3'), der.utf8String(v)));
    assertPkiError(
      () => verifyCsr(handmadeCsr({ key, subject: der.sequence() })),
      'csr_invalid',
      /exactly one CN/,
    );
    assertPkiError(
      () => verifyCsr(handmadeCsr({ key, subject: der.sequence(cn('a'), cn('b')) })),
      'csr_invalid',
      /exactly one CN/,
    );
    assertPkiError(
      () => verifyCsr(handmadeCsr({ key, subject: der.sequence(cn('a\u0000b')) })),
      'csr_invalid',
      /control/,
    );
    assertPkiError(
      () => verifyCsr(handmadeCsr({ key, subject: der.sequence(cn('x'.repeat(65))) })),
      'csr_invalid',
      /64/,
    );
  });

  test('createCsr refuses bad keys and names', () => {
    assertPkiError(() => createCsr({ commonName: 'x', keyPem: 'nope' }), 'key_invalid');
    assertPkiError(() => createCsr({ commonName: 'x', keyPem: site.publicKeyPem }), 'key_invalid');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    assertPkiError(() => createCsr({ commonName: 'x', keyPem: rsa as string }), 'key_invalid', /P-256/);
    assertPkiError(() => createCsr({ commonName: '', keyPem: site.privateKeyPem }), 'csr_invalid', /empty/);
  });

  test('fuzz: any single mutation of a valid CSR is refused with a PkiError', { timeout: 60_000 }, () => {
    const valid = pemToDer(csr);
    const mutation = fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
      const bytes = Buffer.from(valid);
      bytes[at]! ^= xor;
      return bytes;
    });
    fc.assert(
      fc.property(mutation, (bytes) => {
        assertPkiError(() => verifyCsr(derToPem('CERTIFICATE REQUEST', bytes)), 'csr_invalid');
      }),
      { numRuns: 1500 },
    );
  });

  test('fuzz: random bytes and random text give a PkiError, nothing else', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        assertPkiError(() => verifyCsr(derToPem('CERTIFICATE REQUEST', bytes)), 'csr_invalid');
      }),
      { numRuns: 1500 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        assertPkiError(
          () =>
            verifyCsr(`-----BEGIN CERTIFICATE REQUEST-----\n${text}\n-----END CERTIFICATE REQUEST-----\n`),
          'csr_invalid',
        );
      }),
      { numRuns: 500 },
    );
  });
});

function createPrivateKeyObject(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}
