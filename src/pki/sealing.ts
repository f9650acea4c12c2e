// Sealing a secret value to one site: HPKE (RFC 9180) in base mode with DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256 and AES-128-GCM (@hpke/core, on the runtime's Web Crypto). Only the site holds the private key.

import { createHash } from 'node:crypto';
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { type EnvelopeParts, envelopeOf, envelopeParts } from '../model/sealed-secret.ts';

/** A site's sealing key pair, each key as the base64url of its 32 raw bytes. */
export interface SealingKeyPair {
  publicKey: string;
  privateKey: string;
}

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes128Gcm(),
});

const encoder = new TextEncoder();
const toBase64url = (bytes: ArrayBuffer | Uint8Array) =>
  Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('base64url');
const fromBase64url = (text: string) => new Uint8Array(Buffer.from(text, 'base64url'));

/** Why a sealed value cannot be opened here, in words an operator can act on. */
export class UnsealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsealError';
  }
}

export async function generateSealingKeyPair(): Promise<SealingKeyPair> {
  const pair = await suite.kem.generateKeyPair();
  return {
    publicKey: toBase64url(await suite.kem.serializePublicKey(pair.publicKey)),
    privateKey: toBase64url(await suite.kem.serializePrivateKey(pair.privateKey)),
  };
}

/**
 * A short name for a public key: the first 16 hex digits of its sha256. Sealed values carry it, so a site
 * holding another key can say so instead of failing to decrypt.
 */
export function sealingKeyId(publicKey: string): string {
  return createHash('sha256').update(fromBase64url(publicKey)).digest('hex').slice(0, 16);
}

/** Whether `text` is an X25519 public key as sites send it (base64url, 32 bytes). */
export function isSealingPublicKey(text: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(text) && fromBase64url(text).length === 32;
}

/** HPKE single-shot seal (RFC 9180 §6.1) to a raw public key. */
export async function hpkeSeal(
  publicKey: Uint8Array,
  plaintext: Uint8Array,
  info: Uint8Array,
  aad?: Uint8Array,
): Promise<{ enc: Uint8Array; ct: Uint8Array }> {
  const sealed = await suite.seal(
    { recipientPublicKey: await suite.kem.deserializePublicKey(publicKey), info },
    plaintext,
    aad,
  );
  return { enc: new Uint8Array(sealed.enc), ct: new Uint8Array(sealed.ct) };
}

/** HPKE single-shot open (RFC 9180 §6.1) with a raw private key; throws when the ciphertext does not open. */
export async function hpkeOpen(
  privateKey: Uint8Array,
  enc: Uint8Array,
  ct: Uint8Array,
  info: Uint8Array,
  aad?: Uint8Array,
): Promise<Uint8Array> {
  const opened = await suite.open(
    { recipientKey: await suite.kem.deserializePrivateKey(privateKey), enc, info },
    ct,
    aad,
  );
  return new Uint8Array(opened);
}

/**
 * Seals one value to one site's public key. `context` (sealingContext) names where the value belongs, so
 * a ciphertext moved to another Secret or key does not open.
 */
export async function sealValue(publicKey: string, value: Uint8Array, context: string): Promise<string> {
  const { enc, ct } = await hpkeSeal(fromBase64url(publicKey), value, encoder.encode(context));
  return envelopeOf({ keyId: sealingKeyId(publicKey), enc: toBase64url(enc), ct: toBase64url(ct) });
}

/** Opens a value sealed to `keys`; an UnsealError says why it cannot be. */
export async function openValue(
  keys: SealingKeyPair,
  envelope: string,
  context: string,
): Promise<Uint8Array> {
  const parts: EnvelopeParts | undefined = envelopeParts(envelope);
  if (!parts) throw new UnsealError('is not a sealed value (hpke1.KEYID.ENC.CT)');
  const own = sealingKeyId(keys.publicKey);
  if (parts.keyId !== own) {
    throw new UnsealError(
      `is sealed to key ${parts.keyId}, but this site's sealing key is ${own} (the site was reset or replaced since)`,
    );
  }
  try {
    return await hpkeOpen(
      fromBase64url(keys.privateKey),
      fromBase64url(parts.enc),
      fromBase64url(parts.ct),
      encoder.encode(context),
    );
  } catch {
    throw new UnsealError(`does not open with this site's key ${own} (damaged, or sealed for another place)`);
  }
}
