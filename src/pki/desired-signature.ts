// The hub's signature over a site's desired state, made with the fleet CA's key: a relay passes desired
// states on, and the agent, which pins that CA, can tell the relay changed nothing but could only withhold.
// v2 (what the hub makes): one signature per relay answer, over the root of a Merkle tree of its sites'
// (id, digest) leaves (desired-tree.ts); each state carries the root's signature and its own proof.
// v1 (a single site's signature, from older hubs) is still accepted.

import { createPrivateKey, type KeyObject, sign, verify, X509Certificate } from 'node:crypto';
import { type DesiredProof, proofRoot } from './desired-tree.ts';

/**
 * What is signed: the site and the digest, which covers every (bundle, blob digest) pair; each blob is
 * checked against its digest when fetched. The prefix keeps these bytes apart from anything else the
 * CA key signs (certificates sign DER, which never starts with it).
 */
function signedBytes(siteId: string, digest: string): Buffer {
  return Buffer.from(`outpost-desired-v1\n${siteId}\n${digest}`, 'utf8');
}

/** The CA key last signed with, parsed once: parsing its PEM cost more than the signature itself. */
let parsedKey: { pem: string; key: KeyObject } | undefined;

function caKey(caKeyPem: string): KeyObject {
  if (parsedKey?.pem !== caKeyPem) parsedKey = { pem: caKeyPem, key: createPrivateKey(caKeyPem) };
  return parsedKey.key;
}

/** v1: one site's signature, which every agent release verifies (the hub's `relaySignatures: 'per-site'`). */
export function signDesired(caKeyPem: string, siteId: string, digest: string): string {
  return sign('sha256', signedBytes(siteId, digest), caKey(caKeyPem)).toString('base64');
}

/** What a v2 root signature signs: its own prefix, apart from v1's bytes and from DER, then the root. */
function rootBytes(root: Buffer): Buffer {
  return Buffer.concat([Buffer.from('outpost-desired-root-v2\n', 'utf8'), root]);
}

/** v2: the signature over a desired-state tree's root (desired-tree.ts `desiredTree`). */
export function signDesiredRoot(caKeyPem: string, root: Buffer): string {
  return sign('sha256', rootBytes(root), caKey(caKeyPem)).toString('base64');
}

/** Whether `signature` is the fleet CA's over this site's desired digest. */
export function desiredSignatureValid(
  caCertPem: string,
  siteId: string,
  digest: string,
  signature: string,
): boolean {
  try {
    const ca = new X509Certificate(caCertPem);
    return verify('sha256', signedBytes(siteId, digest), ca.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Whether `proof` leads from this site's (id, digest) leaf to a root the fleet CA signed with `signature`:
 * a proof made for another site, a state moved between sites, a changed or cut path all fail.
 */
export function desiredBatchSignatureValid(
  caCertPem: string,
  siteId: string,
  digest: string,
  proof: DesiredProof,
  signature: string,
): boolean {
  try {
    const root = proofRoot(siteId, digest, proof);
    if (!root) return false;
    const ca = new X509Certificate(caCertPem);
    return verify('sha256', rootBytes(root), ca.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
