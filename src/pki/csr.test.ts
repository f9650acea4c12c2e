// CSRs: createCsr and verifyCsr round trip, and verifyCsr's refusal of tampered, forged, foreign and
// malformed requests with a clear reason (fuzzed), checked against node:crypto.

import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { issueCertificate } from './authority.ts';
import { createCsr, verifyCsr } from './csr.ts';
import * as der from './der.ts';
import { generateKeyPair } from './keys.ts';
import { assertPkiError, ca, caX509, derToPem, HOUR, issue, now, pemToDer, site } from './test-fixture.ts';

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
