// The Merkle tree over the desired states of one relay answer: the hub signs its root once for the whole
// answer, and each site's state carries the path from its own leaf to that root. A leaf binds a site id
// to its desired digest, so a relay that serves site A's (validly signed) state to site B is caught: B
// computes its leaf from its own id and the digest it was given, and that leaf is not in the tree.
// Pure: hashing only, no keys and no I/O (signing the root is desired-signature.ts's).

import { hash } from 'node:crypto';

/**
 * A site's place in the tree: its leaf's index among `count` leaves, and the sibling hashes (base64url,
 * 32 bytes each) from the leaf up to the root. Which side each sibling is on follows from index and count.
 */
export interface DesiredProof {
  index: number;
  count: number;
  path: string[];
}

/** Leaves per tree at most: a relay asks for up to 1000 sites at once; this bounds what a verifier walks. */
export const maxLeaves = 1 << 20;

/**
 * Leaf and node hashes start with different bytes (0 and 1), so no node can pass for a leaf; the leaf's
 * text has its own version prefix, apart from v1's single-site signed bytes.
 */
function leafHash(siteId: string, digest: string): Buffer {
  // the one-shot hash: half the cost of a Hash object per leaf and node
  return hash('sha256', `\x00outpost-desired-v2\n${siteId}\n${digest}`, 'buffer');
}

const nodePrefix = Buffer.of(1);

function nodeHash(left: Buffer, right: Buffer): Buffer {
  return hash('sha256', Buffer.concat([nodePrefix, left, right], 65), 'buffer');
}

/**
 * The levels of the tree, leaves first: each level pairs its nodes left to right; an odd last node is
 * carried up unchanged (it has no sibling at that level, so its path has no entry for it).
 */
function levels(leaves: Buffer[]): Buffer[][] {
  const all = [leaves];
  for (let level = leaves; level.length > 1; ) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? nodeHash(level[i]!, level[i + 1]!) : level[i]!);
    }
    all.push(next);
    level = next;
  }
  return all;
}

/**
 * The root over the sites' (id, digest) pairs, in the order given, and each one's proof (same order).
 *
 * @example desiredTree([{ siteId: 's1', digest: d1 }, { siteId: 's2', digest: d2 }]).proofs[1].path.length === 1
 */
export function desiredTree(leaves: readonly { siteId: string; digest: string }[]): {
  root: Buffer;
  proofs: DesiredProof[];
} {
  if (leaves.length === 0 || leaves.length > maxLeaves) {
    throw new RangeError(`a desired-state tree has 1 to ${maxLeaves} leaves, not ${leaves.length}`);
  }
  const tree = levels(leaves.map((l) => leafHash(l.siteId, l.digest)));
  const count = leaves.length;
  // each node's text is made once: a node is in the path of every leaf under its sibling
  const below = tree.slice(0, -1).map((level) => level.map((node) => node.toString('base64url')));
  const proofs = leaves.map((_, index) => {
    const path: string[] = [];
    let at = index;
    for (const level of below) {
      const sibling = at % 2 === 1 ? at - 1 : at + 1;
      if (sibling < level.length) path.push(level[sibling]!);
      at >>= 1;
    }
    return { index, count, path };
  });
  return { root: tree.at(-1)![0]!, proofs };
}

/**
 * The root that `proof` leads to from this site's leaf, or undefined when the proof is malformed: an
 * index outside the count, a path longer or shorter than a tree of that count has, or a sibling that is
 * not a 32-byte hash. Whether the root is the one the hub signed is the caller's question.
 */
export function proofRoot(siteId: string, digest: string, proof: DesiredProof): Buffer | undefined {
  const { index, count, path } = proof;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || !Array.isArray(path)) return undefined;
  if (count < 1 || count > maxLeaves || index < 0 || index >= count) return undefined;
  let node = leafHash(siteId, digest);
  let at = index;
  let width = count;
  let used = 0;
  while (width > 1) {
    const hasSibling = at % 2 === 1 || at + 1 < width;
    if (hasSibling) {
      const entry = path[used++];
      if (typeof entry !== 'string') return undefined;
      const sibling = Buffer.from(entry, 'base64url');
      if (sibling.length !== 32 || sibling.toString('base64url') !== entry) return undefined;
      node = at % 2 === 1 ? nodeHash(sibling, node) : nodeHash(node, sibling);
    }
    at >>= 1;
    width = Math.ceil(width / 2);
  }
  return used === path.length ? node : undefined;
}
