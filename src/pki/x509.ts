// What certificates and CSRs are both made of: the object identifiers we use, a subject that is one
// common name, and the one signature algorithm (ecdsa-with-SHA256), written and read the same way by both.

import { type KeyObject, sign } from 'node:crypto';
import * as der from './der.ts';
import { PkiError, type PkiErrorCode } from './errors.ts';

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Signatures

/** The AlgorithmIdentifier of every signature we make, in the TBSCertificate and after it. */
export const SIGNATURE_ALGORITHM = der.sequence(der.oid(OID.ecdsaWithSha256));

/** `tbs` signed with `key`, as a Certificate or CertificationRequest: SEQUENCE { tbs, algorithm, signature }. */
export function signAndWrap(tbs: Uint8Array, key: KeyObject): Uint8Array {
  // the KeyObject itself, not { key, dsaEncoding }: DER is ECDSA's default, and node:crypto finds an options
  // object not to be a key by catching a thrown error, which cost a third of the signature
  const signature = sign('sha256', tbs, key);
  return der.sequence(tbs, SIGNATURE_ALGORITHM, der.bitString(signature));
}

export function checkSignatureAlgorithm(t: der.Tlv | undefined, what: string): void {
  const [algOid, ...params] = der.children(der.expectTag(t, der.Tag.SEQUENCE, what));
  const id = der.readOid(der.expectTag(algOid, der.Tag.OID, `${what} OID`));
  if (id !== OID.ecdsaWithSha256) {
    throw new der.DerError(`unsupported signature algorithm ${id} (only ecdsa-with-SHA256 is accepted)`);
  }
  if (params.length > 0) throw new der.DerError('ecdsa-with-SHA256 must have no parameters');
}

// ---------------------------------------------------------------------------------------------------------------
// Names

const CN_MAX = 64; // ub-common-name, RFC 5280
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Why a common name is unacceptable, or undefined: 1..64 characters, well-formed, no control characters. */
export function commonNameProblem(cn: unknown): string | undefined {
  if (typeof cn !== 'string') return 'common name must be a string';
  if (cn.length === 0) return 'common name is empty';
  if (!cn.isWellFormed()) return 'common name has lone surrogates';
  if ([...cn].length > CN_MAX) return `common name is longer than ${CN_MAX} characters`;
  if (CONTROL_CHARS.test(cn)) return 'common name has control characters';
  return undefined;
}

export function checkCommonName(cn: string, code: PkiErrorCode): void {
  const problem = commonNameProblem(cn);
  if (problem !== undefined) throw new PkiError(code, problem);
}

/** Name ::= SEQUENCE OF RDN, here a single CN as UTF8String. */
export function nameWithCommonName(cn: string): Uint8Array {
  return der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(cn))));
}

/** Collects the CN values of a Name, checking its shape and string types. Throws DerError. */
export function commonNamesOf(name: der.Tlv): string[] {
  der.expectTag(name, der.Tag.SEQUENCE, 'Name');
  const out: string[] = [];
  for (const rdn of der.children(name)) {
    der.expectTag(rdn, der.Tag.SET, 'RelativeDistinguishedName');
    const attributes = der.children(rdn);
    if (attributes.length === 0) throw new der.DerError('empty RelativeDistinguishedName');
    for (const attribute of attributes) {
      const [type, value, ...rest] = der.children(der.expectTag(attribute, der.Tag.SEQUENCE, 'attribute'));
      if (value === undefined || rest.length > 0) throw new der.DerError('attribute must be type and value');
      if (der.readOid(der.expectTag(type, der.Tag.OID, 'attribute type')) === OID.commonName) {
        out.push(der.readString(value));
      }
    }
  }
  return out;
}
