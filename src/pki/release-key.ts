// The release key: an Ed25519 key pair that signs agent releases. The private half stays with whoever
// builds releases (never on the hub); the public half goes into join tokens, so each site pins it when it
// joins and runs only releases it signed, whatever the hub's database says.

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';

export class ReleaseKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReleaseKeyError';
  }
}

export interface ReleaseKeyPair {
  /** PKCS#8 PEM: keep it offline */
  privateKeyPem: string;
  /** the public key as join tokens carry it: base64 of its SPKI DER (44 bytes) */
  publicKey: string;
}

export function generateReleaseKey(): ReleaseKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

function ed25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ReleaseKeyError(`${what} is a ${key.asymmetricKeyType} key; release keys are Ed25519`);
  return key;
}

/** The public key from its base64 SPKI form, or from a PEM public or private key. */
export function releasePublicKey(text: string): KeyObject {
  try {
    const trimmed = text.trim();
    if (trimmed.startsWith('-----BEGIN')) return ed25519(createPublicKey(trimmed), 'the release key');
    return ed25519(
      createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' }),
      'the release key',
    );
  } catch (e) {
    if (e instanceof ReleaseKeyError) throw e;
    throw new ReleaseKeyError(`not a release public key: ${(e as Error).message}`);
  }
}

/** The base64 SPKI form of a public key given in any form releasePublicKey reads. */
export function compactPublicKey(text: string): string {
  return releasePublicKey(text).export({ type: 'spki', format: 'der' }).toString('base64');
}

/** Signs a release statement (model/agent-release.ts) with the private key (PEM); base64 signature. */
export function signRelease(privateKeyPem: string, statement: string): string {
  let key: KeyObject;
  try {
    key = ed25519(createPrivateKey(privateKeyPem), 'the signing key');
  } catch (e) {
    if (e instanceof ReleaseKeyError) throw e;
    throw new ReleaseKeyError(`not a release private key: ${(e as Error).message}`);
  }
  return sign(null, Buffer.from(statement, 'utf8'), key).toString('base64');
}

/** Whether `signature` (base64) is the release key's signature of `statement`. */
export function releaseSignatureValid(publicKey: string, statement: string, signature: string): boolean {
  const key = releasePublicKey(publicKey);
  const sig = Buffer.from(signature, 'base64');
  if (sig.length !== 64) return false;
  return verify(null, Buffer.from(statement, 'utf8'), key, sig);
}
