// The hub's signature over a site's desired state, made with the fleet CA's key: a relay passes desired
// states on, and the agent, which pins that CA, can tell the relay changed nothing but could only withhold.

import { createPrivateKey, type KeyObject, sign, verify, X509Certificate } from 'node:crypto';

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

export function signDesired(caKeyPem: string, siteId: string, digest: string): string {
  if (parsedKey?.pem !== caKeyPem) parsedKey = { pem: caKeyPem, key: createPrivateKey(caKeyPem) };
  return sign('sha256', signedBytes(siteId, digest), parsedKey.key).toString('base64');
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
