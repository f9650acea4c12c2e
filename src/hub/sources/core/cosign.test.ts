// The simple-signing payload check on its own: which digest and repository a payload vouches for, and
// every way one that names something else, or nothing, is told apart. The payload is shaped as cosign v2 writes it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { payloadProblem, signatureTag } from './cosign.ts';

const digest = `sha256:${'ab'.repeat(32)}`;
const other = `sha256:${'cd'.repeat(32)}`;

function payload(critical: unknown, optional: unknown = null): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ critical, optional }));
}

const signed = (reference: string, manifestDigest: string) => ({
  identity: { 'docker-reference': reference },
  image: { 'docker-manifest-digest': manifestDigest },
  type: 'cosign container image signature',
});

test('a payload naming the digest and the repository vouches for them, whatever the registry host', () => {
  assert.equal(
    payloadProblem(payload(signed('127.0.0.1:5000/fleet/stores', digest)), digest, 'fleet/stores'),
    undefined,
  );
  assert.equal(
    payloadProblem(payload(signed('registry.example.com/fleet', digest)), digest, 'fleet'),
    undefined,
  );
  assert.equal(
    payloadProblem(payload(signed('localhost/fleet', digest), { by: 'ci' }), digest, 'fleet'),
    undefined,
  );
});

test('a payload for another digest or another repository is refused, naming what it is for', () => {
  assert.equal(
    payloadProblem(payload(signed('127.0.0.1:5000/fleet', other)), digest, 'fleet'),
    `the signed payload is for ${other}, not ${digest}`,
  );
  assert.equal(
    payloadProblem(payload(signed('127.0.0.1:5000/elsewhere', digest)), digest, 'fleet'),
    'the signed payload is for the repository 127.0.0.1:5000/elsewhere, not fleet',
  );
  assert.equal(
    payloadProblem(payload(signed('127.0.0.1:5000/org/fleet', digest)), digest, 'fleet'),
    'the signed payload is for the repository 127.0.0.1:5000/org/fleet, not fleet',
  );
});

test('a payload that is not a cosign image signature, or lacks a field, is refused', () => {
  const problem = (p: Uint8Array) => payloadProblem(p, digest, 'fleet');
  assert.equal(problem(new TextEncoder().encode('not json')), 'the signed payload is not JSON');
  assert.equal(problem(new Uint8Array([0xff, 0xfe])), 'the signed payload is not JSON');
  assert.equal(
    problem(new TextEncoder().encode('null')),
    'the signed payload is of type undefined, not "cosign container image signature"',
  );
  assert.match(
    problem(payload({ ...signed('x/fleet', digest), type: 'atomic container signature' })) ?? '',
    /of type atomic container signature/,
  );
  assert.equal(
    problem(
      payload({ type: 'cosign container image signature', identity: { 'docker-reference': 'h:1/fleet' } }),
    ),
    'the signed payload names no critical.image.docker-manifest-digest',
  );
  assert.equal(
    problem(
      payload({ type: 'cosign container image signature', image: { 'docker-manifest-digest': digest } }),
    ),
    'the signed payload names no critical.identity.docker-reference',
  );
});

test('signatures live at the tag cosign derives from the digest', () => {
  assert.equal(signatureTag(digest), `sha256-${'ab'.repeat(32)}.sig`);
  assert.throws(() => signatureTag('sha512:00'), /not a sha256 manifest digest/);
});
