import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { releaseStatement } from '../model/agent-release.ts';
import {
  compactPublicKey,
  generateReleaseKey,
  ReleaseKeyError,
  releaseSignatureValid,
  signRelease,
} from './release-key.ts';

const release = { version: '0.2.0', digest: `sha256:${'a'.repeat(64)}`, size: 1234 };

test('a release signed with the private key verifies with the public key, and only unchanged', () => {
  const key = generateReleaseKey();
  assert.equal(Buffer.from(key.publicKey, 'base64').length, 44, 'compact enough for a join token');
  const signature = signRelease(key.privateKeyPem, releaseStatement(release));
  assert.ok(releaseSignatureValid(key.publicKey, releaseStatement(release), signature));
  for (const changed of [
    { ...release, version: '0.2.1' },
    { ...release, digest: `sha256:${'b'.repeat(64)}` },
    { ...release, size: 1235 },
    { ...release, image: 'registry.example/evil:1' },
  ]) {
    assert.equal(releaseSignatureValid(key.publicKey, releaseStatement(changed), signature), false);
  }
  const other = generateReleaseKey();
  assert.equal(releaseSignatureValid(other.publicKey, releaseStatement(release), signature), false);
  assert.equal(releaseSignatureValid(key.publicKey, releaseStatement(release), 'AAAA'), false);
});

test('the public key reads from PEM or its compact form, and must be Ed25519', () => {
  const key = generateReleaseKey();
  assert.equal(compactPublicKey(key.privateKeyPem), key.publicKey);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecPem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.throws(() => compactPublicKey(ecPem), ReleaseKeyError);
  assert.throws(() => compactPublicKey('not a key'), /not a release public key/);
  const ecPrivate = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.throws(() => signRelease(ecPrivate, 'x'), /release keys are Ed25519/);
});
