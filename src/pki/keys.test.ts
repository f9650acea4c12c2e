// Key pairs as node:crypto reads them: P-256, PKCS#8 and SPKI, a new pair each time.

import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { generateKeyPair } from './keys.ts';

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
