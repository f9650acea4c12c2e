// ECDSA P-256 keys, the only kind the PKI accepts: a new key pair, a private key loaded from PEM, and a
// public key (SubjectPublicKeyInfo) read and checked, whether it comes as PEM or inside a CSR or certificate.

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as der from './der.ts';
import { PkiError, wrapDer } from './errors.ts';
import { pemOrThrow } from './pem.ts';
import { OID } from './x509.ts';

export interface KeyPair {
  /** PKCS#8 PEM */
  privateKeyPem: string;
  /** SPKI PEM */
  publicKeyPem: string;
}

/** A fresh ECDSA P-256 key pair: PKCS#8 private key PEM and SPKI public key PEM. */
export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

export function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

export function loadPrivateKey(keyPem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new PkiError('key_invalid', `${what}: not a readable private key PEM`, { cause: err });
  }
  if (!isP256(key)) throw new PkiError('key_invalid', `${what}: must be an ECDSA P-256 key`);
  return key;
}

export interface ParsedSpki {
  /** The SubjectPublicKeyInfo TLV, exactly as encoded. */
  encoded: Uint8Array;
  /** The subjectPublicKey BIT STRING value (the EC point). */
  publicKeyBits: Uint8Array;
}

/** SPKI structure for EC P-256: algorithm id-ecPublicKey with namedCurve prime256v1. Throws DerError. */
export function parseP256Spki(t: der.Tlv): ParsedSpki {
  der.expectTag(t, der.Tag.SEQUENCE, 'SubjectPublicKeyInfo');
  const [algorithm, subjectPublicKey, ...rest] = der.children(t);
  if (rest.length > 0) throw new der.DerError('SubjectPublicKeyInfo has extra fields');
  const [algOid, params, ...more] = der.children(der.expectTag(algorithm, der.Tag.SEQUENCE, 'key algorithm'));
  const algorithmId = der.readOid(der.expectTag(algOid, der.Tag.OID, 'key algorithm OID'));
  if (algorithmId !== OID.ecPublicKey) {
    throw new der.DerError(`unsupported key algorithm ${algorithmId} (only ECDSA P-256 is accepted)`);
  }
  if (params === undefined || params.tag !== der.Tag.OID || more.length > 0) {
    throw new der.DerError('EC key parameters must be a named curve');
  }
  const curve = der.readOid(params);
  if (curve !== OID.prime256v1) throw new der.DerError(`unsupported curve ${curve} (only P-256 is accepted)`);
  const bits = der.readBitString(der.expectTag(subjectPublicKey, der.Tag.BIT_STRING, 'subjectPublicKey'));
  if (bits.unusedBits !== 0) throw new der.DerError('subjectPublicKey has unused bits');
  return { encoded: t.encoded, publicKeyBits: bits.bytes };
}

/**
 * Public key PEMs node:crypto accepted lately, with their SPKI: a CSR's key is checked when the CSR is
 * verified and again when its certificate is issued, and node:crypto's check (~0.1–0.2 ms, OpenSSL's
 * decoder) is then a tenth of a registration. The check depends on the PEM's text alone, so a remembered
 * answer is the answer; only successes are kept, at most `rememberedKeys` of them.
 */
const acceptedKeys = new Map<string, ParsedSpki>();
const rememberedKeys = 256;

/** Notes that node:crypto accepted this public key PEM (a verified CSR's), so publicKeyFromPem need not ask again. */
export function rememberAcceptedKey(publicKeyPem: string, spki: ParsedSpki): void {
  if (acceptedKeys.size >= rememberedKeys) acceptedKeys.delete(acceptedKeys.keys().next().value!);
  acceptedKeys.set(publicKeyPem, spki);
}

/** The SPKI of a P-256 public key PEM ("PUBLIC KEY"), validated by node:crypto (the point is on the curve). */
export function publicKeyFromPem(publicKeyPem: string): ParsedSpki {
  const accepted = acceptedKeys.get(publicKeyPem);
  if (accepted) return accepted;
  const bytes = pemOrThrow(publicKeyPem, 'PUBLIC KEY', 'key_invalid', 'public key');
  const spki = wrapDer('key_invalid', 'public key', () => parseP256Spki(der.decodeOne(bytes)));
  try {
    createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch (err) {
    throw new PkiError('key_invalid', 'public key: not a valid P-256 point', { cause: err });
  }
  rememberAcceptedKey(publicKeyPem, spki);
  return spki;
}
