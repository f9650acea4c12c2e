import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { createCa } from './authority.ts';
import {
  desiredBatchSignatureValid,
  desiredSignatureValid,
  signDesired,
  signDesiredRoot,
} from './desired-signature.ts';
import { type DesiredProof, desiredTree, proofRoot } from './desired-tree.ts';

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

const digestOf = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

/** One relay answer's sites, signed once as the hub does it. */
function batch(n: number) {
  const leaves = Array.from({ length: n }, (_, i) => ({ siteId: `site-${i}`, digest: digestOf(i) }));
  const { root, proofs } = desiredTree(leaves);
  return { leaves, proofs, signature: signDesiredRoot(ca.keyPem, root) };
}

test('every site of a batch verifies against the one root signature, whatever the batch size', () => {
  for (const n of [1, 2, 3, 5, 8, 13, 1000]) {
    const { leaves, proofs, signature } = batch(n);
    for (const [i, l] of leaves.entries()) {
      assert.equal(
        desiredBatchSignatureValid(ca.certPem, l.siteId, l.digest, proofs[i]!, signature),
        true,
        `site ${i} of ${n}`,
      );
    }
  }
  // a tree of 1000 leaves: 10 levels, so no path is longer than 10
  assert.ok(batch(1000).proofs.every((p) => p.path.length <= 10));
});

test('a state swapped between two sites of one batch is refused (a relay serving A’s state to B)', () => {
  const { leaves, proofs, signature } = batch(7);
  const a = leaves[2]!;
  const b = leaves[5]!;
  // B is given A's whole state: A's digest, A's proof, the batch's valid signature
  assert.equal(desiredBatchSignatureValid(ca.certPem, b.siteId, a.digest, proofs[2]!, signature), false);
  // B's own proof with A's digest, and A's proof with B's digest
  assert.equal(desiredBatchSignatureValid(ca.certPem, b.siteId, a.digest, proofs[5]!, signature), false);
  assert.equal(desiredBatchSignatureValid(ca.certPem, b.siteId, b.digest, proofs[2]!, signature), false);
  // a proof made for another site, given to a site with the same digest
  assert.equal(desiredBatchSignatureValid(ca.certPem, 'site-x', a.digest, proofs[2]!, signature), false);
});

test('a tampered, truncated, lengthened or re-indexed proof is refused', () => {
  const { leaves, proofs, signature } = batch(13);
  const l = leaves[6]!;
  const p = proofs[6]!;
  const valid = (proof: DesiredProof, sig = signature) =>
    desiredBatchSignatureValid(ca.certPem, l.siteId, l.digest, proof, sig);
  assert.equal(valid(p), true);
  const flipped = Buffer.from(p.path[1]!, 'base64url');
  flipped[0]! ^= 1;
  const tampered = { ...p, path: p.path.map((h, i) => (i === 1 ? flipped.toString('base64url') : h)) };
  assert.equal(valid(tampered), false);
  assert.equal(valid({ ...p, path: p.path.slice(0, -1) }), false);
  assert.equal(valid({ ...p, path: [...p.path, p.path[0]!] }), false);
  assert.equal(valid({ ...p, path: [] }), false);
  assert.equal(valid({ ...p, index: 7 }), false);
  assert.equal(valid({ ...p, index: 13 }), false);
  assert.equal(valid({ ...p, index: -1 }), false);
  assert.equal(valid({ ...p, count: 0 }), false);
  // a count whose tree has another shape at this index (here the leaf would have no sibling at the bottom)
  assert.equal(valid({ ...p, count: 7 }), false);
  assert.equal(valid({ ...p, path: [...p.path.slice(0, -1), 'not a hash'] }), false);
  assert.equal(valid({ ...p, path: p.path.map((h) => `${h}=`) }), false);
  assert.equal(valid(null as unknown as DesiredProof), false);
});

test('a wrong root signature is refused: another batch’s, another CA’s, a v1 signature, garbage', () => {
  const { leaves, proofs } = batch(4);
  const l = leaves[1]!;
  const p = proofs[1]!;
  const root = proofRoot(l.siteId, l.digest, p)!;
  assert.equal(
    desiredBatchSignatureValid(ca.certPem, l.siteId, l.digest, p, signDesiredRoot(ca.keyPem, root)),
    true,
  );
  const otherBatch = batch(5).signature;
  assert.equal(desiredBatchSignatureValid(ca.certPem, l.siteId, l.digest, p, otherBatch), false);
  const otherCa = signDesiredRoot(other.keyPem, root);
  assert.equal(desiredBatchSignatureValid(ca.certPem, l.siteId, l.digest, p, otherCa), false);
  const v1 = signDesired(ca.keyPem, l.siteId, l.digest);
  assert.equal(desiredBatchSignatureValid(ca.certPem, l.siteId, l.digest, p, v1), false);
  assert.equal(desiredBatchSignatureValid(ca.certPem, l.siteId, l.digest, p, 'garbage!'), false);
});

test('a one-leaf batch’s root signature is not a v1 signature, nor the reverse', () => {
  const { leaves, proofs, signature } = batch(1);
  const l = leaves[0]!;
  assert.deepEqual(proofs[0], { index: 0, count: 1, path: [] });
  assert.equal(desiredSignatureValid(ca.certPem, l.siteId, l.digest, signature), false);
  const v1 = signDesired(ca.keyPem, l.siteId, l.digest);
  assert.equal(desiredBatchSignatureValid(ca.certPem, l.siteId, l.digest, proofs[0]!, v1), false);
});

test('a tree is refused with no leaves', () => {
  assert.throws(() => desiredTree([]), RangeError);
});

test('the tree’s bytes are fixed: a two-leaf root computed by hand from the documented hashing', () => {
  const leaf = (site: string, digest: string) =>
    createHash('sha256').update(`\x00outpost-desired-v2\n${site}\n${digest}`).digest();
  const a = leaf('site-a', digestOf(1));
  const b = leaf('site-b', digestOf(2));
  const root = createHash('sha256').update(Buffer.of(1)).update(a).update(b).digest();
  const tree = desiredTree([
    { siteId: 'site-a', digest: digestOf(1) },
    { siteId: 'site-b', digest: digestOf(2) },
  ]);
  assert.deepEqual(tree.root, root);
  assert.deepEqual(tree.proofs[0], { index: 0, count: 2, path: [b.toString('base64url')] });
  // three leaves: the third is carried up unchanged, so its path is the first two's node alone
  const c = leaf('site-c', digestOf(3));
  const three = desiredTree([
    { siteId: 'site-a', digest: digestOf(1) },
    { siteId: 'site-b', digest: digestOf(2) },
    { siteId: 'site-c', digest: digestOf(3) },
  ]);
  assert.deepEqual(three.root, createHash('sha256').update(Buffer.of(1)).update(root).update(c).digest());
  assert.deepEqual(three.proofs[2], { index: 2, count: 3, path: [root.toString('base64url')] });
});
