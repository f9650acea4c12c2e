import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCa } from './authority.ts';
import { desiredSignatureValid, signDesired } from './desired-signature.ts';

const now = Date.now();
const ca = createCa({
  commonName: 'test CA',
  notBefore: new Date(now - 3600_000),
  notAfter: new Date(now + 3600_000),
});
const other = createCa({
  commonName: 'other CA',
  notBefore: new Date(now - 3600_000),
  notAfter: new Date(now + 3600_000),
});
const digest = `sha256:${'a'.repeat(64)}`;

test('a desired state signed by the fleet CA verifies for its site and digest', () => {
  const signature = signDesired(ca.keyPem, 'site-1', digest);
  assert.equal(desiredSignatureValid(ca.certPem, 'site-1', digest, signature), true);
});

test('a signature does not carry over to another site, another digest or another CA', () => {
  const signature = signDesired(ca.keyPem, 'site-1', digest);
  assert.equal(desiredSignatureValid(ca.certPem, 'site-2', digest, signature), false);
  assert.equal(desiredSignatureValid(ca.certPem, 'site-1', `sha256:${'b'.repeat(64)}`, signature), false);
  assert.equal(desiredSignatureValid(other.certPem, 'site-1', digest, signature), false);
  assert.equal(desiredSignatureValid(ca.certPem, 'site-1', digest, 'not base64 at all!'), false);
});

test('signing with one CA key and then another signs each with its own (the parsed key is not kept across keys)', () => {
  const first = signDesired(ca.keyPem, 'site-1', digest);
  const second = signDesired(other.keyPem, 'site-1', digest);
  const again = signDesired(ca.keyPem, 'site-1', digest);
  assert.equal(desiredSignatureValid(ca.certPem, 'site-1', digest, first), true);
  assert.equal(desiredSignatureValid(other.certPem, 'site-1', digest, second), true);
  assert.equal(desiredSignatureValid(ca.certPem, 'site-1', digest, second), false);
  assert.equal(desiredSignatureValid(ca.certPem, 'site-1', digest, again), true);
});
