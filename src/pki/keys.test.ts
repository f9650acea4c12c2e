// Key pairs as node:crypto reads them: P-256, PKCS#8 and SPKI, a new pair each time.

import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { createCsr, verifyCsr } from './csr.ts';
import { generateKeyPair, publicKeyFromPem } from './keys.ts';

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

describe('publicKeyFromPem', () => {
  test("a verified CSR's key is remembered as node:crypto read it, and a bad key is still refused", () => {
    const kp = generateKeyPair();
    const { publicKeyPem } = verifyCsr(createCsr({ commonName: 'site-a', keyPem: kp.privateKeyPem }));
    const remembered = publicKeyFromPem(publicKeyPem);
    const spki = createPublicKey(kp.publicKeyPem).export({ type: 'spki', format: 'der' });
    assert.deepEqual(Buffer.from(remembered.encoded), spki);
    assert.deepEqual(Buffer.from(remembered.publicKeyBits), spki.subarray(spki.length - 65));
    // the same bytes with the point moved off the curve: refused each time it is asked
    const broken = Buffer.from(spki);
    broken[broken.length - 1]! ^= 1;
    const brokenPem = `-----BEGIN PUBLIC KEY-----\n${broken.toString('base64')}\n-----END PUBLIC KEY-----\n`;
    for (let i = 0; i < 2; i++) assert.throws(() => publicKeyFromPem(brokenPem), { code: 'key_invalid' });
  });
});
