// PKCS#10 certificate signing requests: a site makes one for its key and name, and the hub verifies it
// strictly (P-256, ecdsa-with-SHA256, exactly one acceptable CN, a signature that holds) before issuing.

import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import * as der from './der.ts';
import { PkiError } from './errors.ts';
import { isP256, loadPrivateKey, type ParsedSpki, parseP256Spki, rememberAcceptedKey } from './keys.ts';
import { fromPem, toPem } from './pem.ts';
import {
  checkCommonName,
  checkSignatureAlgorithm,
  commonNameProblem,
  commonNamesOf,
  nameWithCommonName,
  signAndWrap,
} from './x509.ts';

export interface VerifiedCsr {
  commonName: string;
  publicKeyPem: string;
}

/** Largest CSR PEM verifyCsr looks at. */
export const MAX_CSR_PEM_LENGTH = 8 * 1024;

const CSR_VERSION_1 = der.smallInteger(0);
const CSR_NO_ATTRIBUTES = der.explicit(0);

/** A PKCS#10 CSR (PEM) for subject CN=commonName, signed with the P-256 private key `keyPem`. */
export function createCsr(opts: { commonName: string; keyPem: string }): string {
  checkCommonName(opts.commonName, 'csr_invalid');
  const key = loadPrivateKey(opts.keyPem, 'CSR key');
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const info = der.sequence(CSR_VERSION_1, nameWithCommonName(opts.commonName), spki, CSR_NO_ATTRIBUTES);
  return toPem('CERTIFICATE REQUEST', signAndWrap(info, key));
}

function csrError(message: string, cause?: unknown): PkiError {
  return new PkiError('csr_invalid', `invalid CSR: ${message}`, cause === undefined ? undefined : { cause });
}

/**
 * Parses a PKCS#10 CSR PEM (at most 8 KiB), requires an ECDSA P-256 key, ecdsa-with-SHA256, exactly one CN that
 * createCsr/issueCertificate would accept, and a signature that verifies with the embedded key. Attributes (e.g.
 * requested extensions) are ignored. Throws PkiError('csr_invalid') otherwise.
 */
export function verifyCsr(csrPem: string): VerifiedCsr {
  if (typeof csrPem !== 'string') throw csrError('not a string');
  if (csrPem.length > MAX_CSR_PEM_LENGTH) throw csrError(`larger than ${MAX_CSR_PEM_LENGTH} bytes`);
  const bytes = fromPem(csrPem, 'CERTIFICATE REQUEST');
  if (typeof bytes === 'string') throw csrError(bytes);
  let parsed: { info: Uint8Array; signature: Uint8Array; spki: ParsedSpki; commonNames: string[] };
  try {
    const csr = der.expectTag(der.decodeOne(bytes), der.Tag.SEQUENCE, 'CertificationRequest');
    const [info, sigAlg, sigValue, ...rest] = der.children(csr);
    if (rest.length > 0) throw new der.DerError('CertificationRequest has extra fields');
    const [version, subject, spki, attributes, ...more] = der.children(
      der.expectTag(info, der.Tag.SEQUENCE, 'CertificationRequestInfo'),
    );
    if (more.length > 0) throw new der.DerError('CertificationRequestInfo has extra fields');
    if (der.readSmallInteger(der.expectTag(version, der.Tag.INTEGER, 'version')) !== 0) {
      throw new der.DerError('unsupported CSR version');
    }
    der.children(der.expectTag(attributes, 0xa0, 'attributes [0]'));
    const parsedSpki = parseP256Spki(der.expectTag(spki, der.Tag.SEQUENCE, 'subjectPKInfo'));
    checkSignatureAlgorithm(sigAlg, 'signatureAlgorithm');
    const signature = der.readBitString(der.expectTag(sigValue, der.Tag.BIT_STRING, 'signature'));
    if (signature.unusedBits !== 0) throw new der.DerError('signature has unused bits');
    parsed = {
      info: info!.encoded,
      signature: signature.bytes,
      spki: parsedSpki,
      commonNames: commonNamesOf(subject!),
    };
  } catch (err) {
    if (err instanceof der.DerError) throw csrError(err.message, err);
    throw err;
  }
  if (parsed.commonNames.length !== 1) {
    throw csrError(`subject must have exactly one CN, found ${parsed.commonNames.length}`);
  }
  const commonName = parsed.commonNames[0]!;
  const problem = commonNameProblem(commonName);
  if (problem !== undefined) throw csrError(problem);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(parsed.spki.encoded), format: 'der', type: 'spki' });
  } catch (err) {
    throw csrError('public key is not a valid P-256 point', err);
  }
  if (!isP256(key)) throw csrError('public key is not ECDSA P-256');
  let ok: boolean;
  try {
    // DER signature, ECDSA's default: the KeyObject alone spares node:crypto a thrown error (see signAndWrap)
    ok = verify('sha256', parsed.info, key, parsed.signature);
  } catch (err) {
    throw csrError('signature is malformed', err);
  }
  if (!ok) throw csrError('signature does not verify with the embedded public key');
  const publicKeyPem = toPem('PUBLIC KEY', parsed.spki.encoded);
  // the certificate issued for this key next need not have node:crypto check it again
  rememberAcceptedKey(publicKeyPem, parsed.spki);
  return { commonName, publicKeyPem };
}
