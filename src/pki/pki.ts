// The hub's PKI: ECDSA P-256 keys, a small self-signed CA, PKCS#10 CSRs and X.509 v3 site certificates.
// Certificates have one fixed shape, so they are DER-encoded by hand (./der.ts) and signed/verified with node:crypto.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
  X509Certificate,
} from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import * as der from './der.ts';

export type PkiErrorCode = 'csr_invalid' | 'certificate_invalid' | 'key_invalid';

/**
 * Every failure of this module. `csr_invalid`: a CSR (or createCsr's input) is unusable; `key_invalid`: a key is
 * malformed, not ECDSA P-256, or does not match its certificate; `certificate_invalid`: a certificate is malformed,
 * or the options asked of issueCertificate/createCa cannot make a valid one (names, dates, serial).
 */
export class PkiError extends Error {
  readonly code: PkiErrorCode;
  constructor(code: PkiErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PkiError';
    this.code = code;
  }
}

export interface KeyPair {
  /** PKCS#8 PEM */
  privateKeyPem: string;
  /** SPKI PEM */
  publicKeyPem: string;
}

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface VerifiedCsr {
  commonName: string;
  publicKeyPem: string;
}

export interface IssueOptions {
  publicKeyPem: string;
  commonName: string;
  uris?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  /** ExtendedKeyUsage clientAuth or serverAuth; KeyUsage is digitalSignature (critical) either way. */
  usage: 'client' | 'server';
  notBefore: Date;
  notAfter: Date;
  /** Hex, any case; normalized as described at {@link normalizeSerialHex}. Default: 16 random bytes. */
  serialHex?: string;
}

export interface IssuedCertificate {
  certPem: string;
  /** Normalized lower-case hex (see {@link normalizeSerialHex}). */
  serialHex: string;
  /** As encoded: milliseconds dropped. */
  notAfter: Date;
  fingerprintSha256: string;
}

export interface CertificateInfo {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** '' when the subject has no CN. */
  commonName: string;
  /** SubjectAltName uniformResourceIdentifier entries, in order. */
  uris: string[];
  fingerprintSha256: string;
}

/** Largest CSR PEM verifyCsr looks at. */
export const MAX_CSR_PEM_LENGTH = 8 * 1024;

const OID = {
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

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value))
    : der.sequence(der.oid(id), der.octetString(value));
}

// Constant pieces of every certificate, encoded once.
const SIGNATURE_ALGORITHM = der.sequence(der.oid(OID.ecdsaWithSha256));
const VERSION_3 = der.explicit(0, der.smallInteger(2));
const CSR_VERSION_1 = der.smallInteger(0);
const CSR_NO_ATTRIBUTES = der.explicit(0);
const KEY_USAGE_DIGITAL_SIGNATURE = 0;
const KEY_USAGE_KEY_CERT_SIGN = 5;
const KEY_USAGE_CRL_SIGN = 6;
const EXT_CA_BASIC_CONSTRAINTS = extension(
  OID.basicConstraints,
  true,
  der.sequence(der.boolean(true), der.smallInteger(0)),
);
const EXT_CA_KEY_USAGE = extension(
  OID.keyUsage,
  true,
  der.namedBits([KEY_USAGE_KEY_CERT_SIGN, KEY_USAGE_CRL_SIGN]),
);
// cA DEFAULT FALSE is omitted, as DER requires: an empty SEQUENCE.
const EXT_LEAF_BASIC_CONSTRAINTS = extension(OID.basicConstraints, true, der.sequence());
const EXT_LEAF_KEY_USAGE = extension(OID.keyUsage, true, der.namedBits([KEY_USAGE_DIGITAL_SIGNATURE]));
const EXT_EKU = {
  client: extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.clientAuth))),
  server: extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))),
} as const;

// ---------------------------------------------------------------------------------------------------------------
// PEM

function toPem(label: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The DER inside the single PEM block labelled `label`. Text outside the block is ignored (RFC 7468); more than
 * one block, headers, bad base64 or non-canonical base64 are refused. Returns an error message instead of throwing.
 */
function fromPem(text: string, label: string): Buffer | string {
  if (typeof text !== 'string') return 'not a string';
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const first = text.indexOf('-----BEGIN ');
  if (first === -1) return `not PEM: no "${begin}" line`;
  if (!text.startsWith(begin, first)) return `expected a "${begin}" block`;
  if (text.indexOf('-----BEGIN ', first + 1) !== -1) return 'more than one PEM block';
  const bodyStart = first + begin.length;
  const bodyEnd = text.indexOf(end, bodyStart);
  if (bodyEnd === -1) return `PEM block has no "${end}" line`;
  const b64 = text.slice(bodyStart, bodyEnd).replace(/[ \t\r\n]+/g, '');
  if (b64.length === 0 || b64.length % 4 !== 0 || !BASE64_BODY.test(b64))
    return 'PEM body is not valid base64';
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.toString('base64') !== b64) return 'PEM body is not canonical base64';
  return bytes;
}

function pemOrThrow(text: string, label: string, code: PkiErrorCode, what: string): Buffer {
  const result = fromPem(text, label);
  if (typeof result === 'string') throw new PkiError(code, `${what}: ${result}`);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
function keyIdentifier(publicKeyBits: Uint8Array): Uint8Array {
  return createHash('sha1').update(publicKeyBits).digest();
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

function loadPrivateKey(keyPem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new PkiError('key_invalid', `${what}: not a readable private key PEM`, { cause: err });
  }
  if (!isP256(key)) throw new PkiError('key_invalid', `${what}: must be an ECDSA P-256 key`);
  return key;
}

const CN_MAX = 64; // ub-common-name, RFC 5280
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Why a common name is unacceptable, or undefined: 1..64 characters, well-formed, no control characters. */
function commonNameProblem(cn: unknown): string | undefined {
  if (typeof cn !== 'string') return 'common name must be a string';
  if (cn.length === 0) return 'common name is empty';
  if (!cn.isWellFormed()) return 'common name has lone surrogates';
  if ([...cn].length > CN_MAX) return `common name is longer than ${CN_MAX} characters`;
  if (CONTROL_CHARS.test(cn)) return 'common name has control characters';
  return undefined;
}

function checkCommonName(cn: string, code: PkiErrorCode): void {
  const problem = commonNameProblem(cn);
  if (problem !== undefined) throw new PkiError(code, problem);
}

/** Name ::= SEQUENCE OF RDN, here a single CN as UTF8String. */
function nameWithCommonName(cn: string): Uint8Array {
  return der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(cn))));
}

/** Seconds precision, as encoded. */
function truncateToSeconds(date: Date, what: string): Date {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new PkiError('certificate_invalid', `${what} is not a valid Date`);
  }
  const t = Math.floor(date.getTime() / 1000) * 1000;
  const out = new Date(t);
  const year = out.getUTCFullYear();
  if (year < 1950 || year > 9999)
    throw new PkiError('certificate_invalid', `${what} must be in years 1950..9999`);
  return out;
}

function validity(notBeforeIn: Date, notAfterIn: Date): { notBefore: Date; notAfter: Date; der: Uint8Array } {
  const notBefore = truncateToSeconds(notBeforeIn, 'notBefore');
  const notAfter = truncateToSeconds(notAfterIn, 'notAfter');
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new PkiError('certificate_invalid', 'notAfter must be later than notBefore');
  }
  return { notBefore, notAfter, der: der.sequence(der.time(notBefore), der.time(notAfter)) };
}

// ---------------------------------------------------------------------------------------------------------------
// Serial numbers
//
// Normalization rule: a serial is stored and reported as the lower-case hex of its big-endian magnitude, two
// digits per byte, with no leading 00 bytes (the DER sign byte is not part of it). That is exactly node's
// X509Certificate#serialNumber and TLSSocket#getPeerCertificate().serialNumber (OpenSSL BN_bn2hex) lower-cased.

const SERIAL_MAX_CONTENT_OCTETS = 20; // RFC 5280 4.1.2.2

/** Normalized form of a hex serial (any case, odd length and leading zeros accepted); throws if unusable. */
export function normalizeSerialHex(serialHex: string): string {
  if (typeof serialHex !== 'string' || !/^[0-9a-fA-F]+$/.test(serialHex)) {
    throw new PkiError('certificate_invalid', 'serial must be a non-empty hex string');
  }
  const even = serialHex.length % 2 === 1 ? `0${serialHex}` : serialHex;
  const normalized = even.toLowerCase().replace(/^(00)+/, '');
  if (normalized.length === 0) throw new PkiError('certificate_invalid', 'serial must be positive');
  const contentOctets = normalized.length / 2 + (Number.parseInt(normalized.slice(0, 1), 16) >= 8 ? 1 : 0);
  if (contentOctets > SERIAL_MAX_CONTENT_OCTETS) {
    throw new PkiError('certificate_invalid', `serial must fit in ${SERIAL_MAX_CONTENT_OCTETS} DER octets`);
  }
  return normalized;
}

/** 16 random bytes, top bit clear and first byte non-zero: always 32 hex digits, about 127 bits of entropy. */
function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  while ((bytes[0]! & 0x7f) === 0) bytes[0] = randomBytes(1)[0]!;
  bytes[0]! &= 0x7f;
  return bytes;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing certificates and SPKIs (our own DER reader; errors become PkiError)

function wrapDer<T>(code: PkiErrorCode, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof der.DerError) throw new PkiError(code, `${what}: ${err.message}`, { cause: err });
    throw err;
  }
}

interface ParsedSpki {
  /** The SubjectPublicKeyInfo TLV, exactly as encoded. */
  encoded: Uint8Array;
  /** The subjectPublicKey BIT STRING value (the EC point). */
  publicKeyBits: Uint8Array;
}

/** SPKI structure for EC P-256: algorithm id-ecPublicKey with namedCurve prime256v1. Throws DerError. */
function parseP256Spki(t: der.Tlv): ParsedSpki {
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

function checkSignatureAlgorithm(t: der.Tlv | undefined, what: string): void {
  const [algOid, ...params] = der.children(der.expectTag(t, der.Tag.SEQUENCE, what));
  const id = der.readOid(der.expectTag(algOid, der.Tag.OID, `${what} OID`));
  if (id !== OID.ecdsaWithSha256) {
    throw new der.DerError(`unsupported signature algorithm ${id} (only ecdsa-with-SHA256 is accepted)`);
  }
  if (params.length > 0) throw new der.DerError('ecdsa-with-SHA256 must have no parameters');
}

/** Collects the CN values of a Name, checking its shape and string types. Throws DerError. */
function commonNamesOf(name: der.Tlv): string[] {
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

interface ParsedExtension {
  critical: boolean;
  value: Uint8Array;
}

interface ParsedCertificate {
  serial: Uint8Array;
  subject: der.Tlv;
  notBefore: Date;
  notAfter: Date;
  spki: der.Tlv;
  extensions: Map<string, ParsedExtension>;
}

/** The TBSCertificate fields we use. Any X.509 v1..v3 shape is read; the signature is not checked here. */
function parseCertificate(derBytes: Uint8Array): ParsedCertificate {
  return wrapDer('certificate_invalid', 'malformed certificate', () => {
    const cert = der.expectTag(der.decodeOne(derBytes), der.Tag.SEQUENCE, 'Certificate');
    const [tbs, sigAlg, sigValue, ...rest] = der.children(cert);
    der.expectTag(sigAlg, der.Tag.SEQUENCE, 'signatureAlgorithm');
    der.readBitString(der.expectTag(sigValue, der.Tag.BIT_STRING, 'signatureValue'));
    if (rest.length > 0) throw new der.DerError('Certificate has extra fields');
    const fields = der.children(der.expectTag(tbs, der.Tag.SEQUENCE, 'TBSCertificate'));
    let i = 0;
    if (fields[0]?.tag === 0xa0) i++;
    const serial = der.readUnsignedInteger(der.expectTag(fields[i++], der.Tag.INTEGER, 'serialNumber'));
    der.expectTag(fields[i++], der.Tag.SEQUENCE, 'signature');
    der.expectTag(fields[i++], der.Tag.SEQUENCE, 'issuer');
    const validityFields = der.children(der.expectTag(fields[i++], der.Tag.SEQUENCE, 'validity'));
    if (validityFields.length !== 2) throw new der.DerError('validity must have two times');
    const subject = der.expectTag(fields[i++], der.Tag.SEQUENCE, 'subject');
    const spki = der.expectTag(fields[i++], der.Tag.SEQUENCE, 'subjectPublicKeyInfo');
    const extensions = new Map<string, ParsedExtension>();
    for (const field of fields.slice(i)) {
      if (field.tag !== 0xa3) continue; // issuerUniqueID [1] / subjectUniqueID [2]
      const [list, ...extra] = der.children(field);
      if (extra.length > 0) throw new der.DerError('extensions [3] must hold one SEQUENCE');
      for (const ext of der.children(der.expectTag(list, der.Tag.SEQUENCE, 'Extensions'))) {
        const parts = der.children(der.expectTag(ext, der.Tag.SEQUENCE, 'Extension'));
        const id = der.readOid(der.expectTag(parts[0], der.Tag.OID, 'extnID'));
        const critical = parts.length === 3 ? der.readBoolean(parts[1]!) : false;
        if (parts.length !== 2 && parts.length !== 3) throw new der.DerError('malformed Extension');
        const value = der.readOctetString(
          der.expectTag(parts[parts.length - 1], der.Tag.OCTET_STRING, 'extnValue'),
        );
        if (extensions.has(id)) throw new der.DerError(`duplicate extension ${id}`);
        extensions.set(id, { critical, value });
      }
    }
    return {
      serial,
      subject,
      notBefore: der.readTime(validityFields[0]!),
      notAfter: der.readTime(validityFields[1]!),
      spki,
      extensions,
    };
  });
}

function certificateDer(certPem: string): Buffer {
  return pemOrThrow(certPem, 'CERTIFICATE', 'certificate_invalid', 'certificate');
}

// ---------------------------------------------------------------------------------------------------------------
// CA preparation, cached per CertificateAuthority object (parsing the key is the costly part)

interface PreparedCa {
  certPem: string;
  keyPem: string;
  key: KeyObject;
  /** The CA subject Name TLV, byte for byte: the issuer of everything it signs. */
  subject: Uint8Array;
  authorityKeyIdentifier: Uint8Array;
}

const preparedCas = new WeakMap<CertificateAuthority, PreparedCa>();
/** Also found by content, for callers that rebuild the CA object for every call. */
let lastPrepared: PreparedCa | undefined;

function prepareCa(ca: CertificateAuthority): PreparedCa {
  for (const cached of [preparedCas.get(ca), lastPrepared]) {
    if (cached !== undefined && cached.certPem === ca.certPem && cached.keyPem === ca.keyPem) {
      preparedCas.set(ca, cached);
      lastPrepared = cached;
      return cached;
    }
  }
  const parsed = parseCertificate(certificateDer(ca.certPem));
  const basic = parsed.extensions.get(OID.basicConstraints);
  const isCa =
    basic !== undefined &&
    wrapDer('certificate_invalid', 'CA basicConstraints', () => {
      const [flag] = der.children(der.decodeOne(basic.value));
      return flag !== undefined && flag.tag === der.Tag.BOOLEAN && der.readBoolean(flag);
    });
  if (!isCa)
    throw new PkiError('certificate_invalid', 'CA certificate does not have basicConstraints CA:TRUE');
  const key = loadPrivateKey(ca.keyPem, 'CA key');
  let certKey: KeyObject;
  try {
    certKey = createPublicKey({ key: Buffer.from(parsed.spki.encoded), format: 'der', type: 'spki' });
  } catch (err) {
    throw new PkiError('certificate_invalid', 'CA certificate public key is unreadable', { cause: err });
  }
  if (!certKey.equals(createPublicKey(key))) {
    throw new PkiError('key_invalid', 'CA key does not match the CA certificate');
  }
  const ski = parsed.extensions.get(OID.subjectKeyIdentifier);
  const keyId =
    ski !== undefined
      ? wrapDer('certificate_invalid', 'CA subjectKeyIdentifier', () =>
          der.readOctetString(der.decodeOne(ski.value)),
        )
      : wrapDer('certificate_invalid', 'CA public key', () =>
          keyIdentifier(parseP256Spki(parsed.spki).publicKeyBits),
        );
  const prepared: PreparedCa = {
    certPem: ca.certPem,
    keyPem: ca.keyPem,
    key,
    subject: Uint8Array.from(parsed.subject.encoded),
    authorityKeyIdentifier: extension(
      OID.authorityKeyIdentifier,
      false,
      der.sequence(der.contextPrimitive(0, keyId)),
    ),
  };
  preparedCas.set(ca, prepared);
  lastPrepared = prepared;
  return prepared;
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/** A fresh ECDSA P-256 key pair: PKCS#8 private key PEM and SPKI public key PEM. */
export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function signAndWrap(tbs: Uint8Array, key: KeyObject): Uint8Array {
  const signature = sign('sha256', tbs, { key, dsaEncoding: 'der' });
  return der.sequence(tbs, SIGNATURE_ALGORITHM, der.bitString(signature));
}

function serialBytes(serialHex: string | undefined): Uint8Array {
  return serialHex === undefined ? randomSerial() : Buffer.from(normalizeSerialHex(serialHex), 'hex');
}

/**
 * A self-signed CA with a new P-256 key: BasicConstraints CA:TRUE pathLen 0 (critical), KeyUsage keyCertSign |
 * cRLSign (critical), SubjectKeyIdentifier. Subject and issuer are CN=commonName.
 */
export function createCa(opts: {
  commonName: string;
  notBefore: Date;
  notAfter: Date;
}): CertificateAuthority {
  checkCommonName(opts.commonName, 'certificate_invalid');
  const times = validity(opts.notBefore, opts.notAfter);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const spki = parseP256Spki(der.decodeOne(spkiDer));
  const name = nameWithCommonName(opts.commonName);
  const tbs = der.sequence(
    VERSION_3,
    der.integer(randomSerial()),
    SIGNATURE_ALGORITHM,
    name,
    times.der,
    name,
    spki.encoded,
    der.explicit(
      3,
      der.sequence(
        EXT_CA_BASIC_CONSTRAINTS,
        EXT_CA_KEY_USAGE,
        extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki.publicKeyBits))),
      ),
    ),
  );
  return {
    certPem: toPem('CERTIFICATE', signAndWrap(tbs, privateKey)),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

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
    ok = verify('sha256', parsed.info, { key, dsaEncoding: 'der' }, parsed.signature);
  } catch (err) {
    throw csrError('signature is malformed', err);
  }
  if (!ok) throw csrError('signature does not verify with the embedded public key');
  return { commonName, publicKeyPem: toPem('PUBLIC KEY', parsed.spki.encoded) };
}

/** The SPKI of a P-256 public key PEM ("PUBLIC KEY"), validated by node:crypto (the point is on the curve). */
function publicKeyFromPem(publicKeyPem: string): ParsedSpki {
  const bytes = pemOrThrow(publicKeyPem, 'PUBLIC KEY', 'key_invalid', 'public key');
  const spki = wrapDer('key_invalid', 'public key', () => parseP256Spki(der.decodeOne(bytes)));
  try {
    createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch (err) {
    throw new PkiError('key_invalid', 'public key: not a valid P-256 point', { cause: err });
  }
  return spki;
}

/** IPv4 or IPv6 text to its 4 or 16 bytes (no zone ids). */
function ipAddressBytes(ip: string): Uint8Array {
  if (typeof ip === 'string' && isIPv4(ip)) return Uint8Array.from(ip.split('.').map(Number));
  if (typeof ip !== 'string' || !isIPv6(ip) || ip.includes('%')) {
    throw new PkiError('certificate_invalid', `not an IP address: ${JSON.stringify(ip)}`);
  }
  let text = ip;
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = text.split('::') as [string, string | undefined];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const head = groups(left);
  const rest = right === undefined ? [] : groups(right);
  const zeros = right === undefined ? 0 : 8 - head.length - rest.length;
  const all = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/;
const MAX_SAN_ENTRIES = 100;

function subjectAltName(opts: IssueOptions): Uint8Array | undefined {
  const names: Uint8Array[] = [];
  for (const dns of opts.dnsNames ?? []) {
    if (typeof dns !== 'string' || dns.length > 253 || !DNS_NAME.test(dns)) {
      throw new PkiError('certificate_invalid', `not a DNS name: ${JSON.stringify(dns)}`);
    }
    names.push(der.contextPrimitive(2, Buffer.from(dns, 'latin1')));
  }
  for (const uri of opts.uris ?? []) {
    if (typeof uri !== 'string' || uri.length > 2048 || !URI.test(uri)) {
      throw new PkiError('certificate_invalid', `not an absolute ASCII URI: ${JSON.stringify(uri)}`);
    }
    names.push(der.contextPrimitive(6, Buffer.from(uri, 'latin1')));
  }
  for (const ip of opts.ipAddresses ?? []) names.push(der.contextPrimitive(7, ipAddressBytes(ip)));
  if (names.length === 0) return undefined;
  if (names.length > MAX_SAN_ENTRIES) {
    throw new PkiError('certificate_invalid', `more than ${MAX_SAN_ENTRIES} subjectAltName entries`);
  }
  return extension(OID.subjectAltName, false, der.sequence(...names));
}

/**
 * An X.509 v3 end-entity certificate signed by `ca`: issuer = the CA subject bytes, BasicConstraints CA:FALSE
 * (critical), KeyUsage digitalSignature (critical), ExtendedKeyUsage clientAuth or serverAuth, SubjectKeyIdentifier,
 * AuthorityKeyIdentifier = the CA's SKI, and SubjectAltName when any URI, DNS name or IP address is given.
 */
export function issueCertificate(ca: CertificateAuthority, opts: IssueOptions): IssuedCertificate {
  const prepared = prepareCa(ca);
  if (opts.usage !== 'client' && opts.usage !== 'server') {
    throw new PkiError('certificate_invalid', `usage must be 'client' or 'server'`);
  }
  checkCommonName(opts.commonName, 'certificate_invalid');
  const spki = publicKeyFromPem(opts.publicKeyPem);
  const times = validity(opts.notBefore, opts.notAfter);
  const serial = serialBytes(opts.serialHex);
  const san = subjectAltName(opts);
  const extensions = [
    EXT_LEAF_BASIC_CONSTRAINTS,
    EXT_LEAF_KEY_USAGE,
    EXT_EKU[opts.usage],
    extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki.publicKeyBits))),
    prepared.authorityKeyIdentifier,
  ];
  if (san !== undefined) extensions.push(san);
  const tbs = der.sequence(
    VERSION_3,
    der.integer(serial),
    SIGNATURE_ALGORITHM,
    prepared.subject,
    times.der,
    nameWithCommonName(opts.commonName),
    spki.encoded,
    der.explicit(3, der.sequence(...extensions)),
  );
  const cert = signAndWrap(tbs, prepared.key);
  return {
    certPem: toPem('CERTIFICATE', cert),
    serialHex: hex(serial),
    notAfter: times.notAfter,
    fingerprintSha256: sha256Hex(cert),
  };
}

/** Lower-case hex SHA-256 of the certificate's DER. */
export function fingerprintSha256(certPem: string): string {
  const bytes = certificateDer(certPem);
  wrapDer('certificate_invalid', 'malformed certificate', () =>
    der.expectTag(der.decodeOne(bytes), der.Tag.SEQUENCE, 'Certificate'),
  );
  return sha256Hex(bytes);
}

/**
 * Serial (normalized lower-case hex), validity, subject CN, SAN URIs and fingerprint of a certificate. OpenSSL (via
 * node's X509Certificate) must also accept it; the fields are read with our DER reader.
 */
export function certificateInfo(certPem: string): CertificateInfo {
  const bytes = certificateDer(certPem);
  const parsed = parseCertificate(bytes);
  try {
    new X509Certificate(bytes);
  } catch (err) {
    throw new PkiError('certificate_invalid', 'certificate is not accepted by OpenSSL', { cause: err });
  }
  return wrapDer('certificate_invalid', 'malformed certificate', () => {
    const commonNames = commonNamesOf(parsed.subject);
    if (commonNames.length > 1) throw new der.DerError('subject has more than one CN');
    const uris: string[] = [];
    const san = parsed.extensions.get(OID.subjectAltName);
    if (san !== undefined) {
      for (const name of der.children(
        der.expectTag(der.decodeOne(san.value), der.Tag.SEQUENCE, 'GeneralNames'),
      )) {
        if (name.tag === 0x86) uris.push(der.readString({ ...name, tag: der.Tag.IA5_STRING }));
      }
    }
    return {
      serialHex: hex(parsed.serial),
      notBefore: parsed.notBefore,
      notAfter: parsed.notAfter,
      commonName: commonNames[0] ?? '',
      uris,
      fingerprintSha256: sha256Hex(bytes),
    };
  });
}
