// The signature check with keys made here by node:crypto, for the cases a registry is not needed for
// (several signatures, a damaged one, a key of the wrong kind); test/hub/oci-signatures.test.ts runs the
// same check on what the real cosign signs.

import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { test } from 'node:test';
import { OutpostError } from '../../model/errors.ts';
import { cosignPublicKey, verifyCosignSignatures } from './signatures.ts';

const digest = `sha256:${'12'.repeat(32)}`;
const pair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const trusted = pair();
const other = pair();
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

function signed(privateKey: KeyObject, manifestDigest = digest) {
  const payload = new TextEncoder().encode(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': 'registry.example.com/fleet' },
        image: { 'docker-manifest-digest': manifestDigest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  return { payload, signature: sign('sha256', payload, privateKey).toString('base64') };
}

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof OutpostError);
    assert.equal(e.code, 'signature_invalid');
    return e.message;
  }
  assert.fail('the signatures were accepted');
}

test('one good signature among others is enough', () => {
  const key = cosignPublicKey(pem(trusted.publicKey));
  verifyCosignSignatures([signed(other.privateKey), signed(trusted.privateKey)], key, digest, 'fleet');
});

test('none, another key, a damaged signature and another digest are each refused, saying why', () => {
  const key = cosignPublicKey(pem(trusted.publicKey));
  assert.equal(
    refusal(() => verifyCosignSignatures([], key, digest, 'fleet')),
    `fleet@${digest} has no cosign signature`,
  );
  assert.match(
    refusal(() => verifyCosignSignatures([signed(other.privateKey)], key, digest, 'fleet')),
    /has no valid cosign signature by the source key: a signature does not verify with the source key$/,
  );
  const good = signed(trusted.privateKey);
  const damaged = { ...good, signature: Buffer.from('not DER').toString('base64') };
  assert.match(
    refusal(() => verifyCosignSignatures([damaged], key, digest, 'fleet')),
    /a signature does not verify/,
  );
  const elsewhere = signed(trusted.privateKey, `sha256:${'34'.repeat(32)}`);
  assert.match(
    refusal(() => verifyCosignSignatures([elsewhere], key, digest, 'fleet')),
    /the signed payload is for sha256:3434.*, not sha256:1212/,
  );
});

test('a verify key must be a PEM ECDSA P-256 public key', () => {
  assert.throws(() => cosignPublicKey('cosign.pub'), /not a PEM public key/);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
  assert.throws(() => cosignPublicKey(pem(p384)), /an EC key on secp384r1; .* are ECDSA P-256/);
  const ed = generateKeyPairSync('ed25519').publicKey;
  assert.throws(() => cosignPublicKey(pem(ed)), /a key of type ed25519/);
});
