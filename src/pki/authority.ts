// The hub's certificate authority: a small self-signed CA on a P-256 key, and the X.509 v3 certificates it
// issues to sites (client) and to the hub itself (server). Certificates have one fixed shape, so they are
// DER-encoded by hand (./der.ts) and signed with node:crypto.

import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  certificateDer,
  fingerprintOfDer,
  normalizeSerialHex,
  parseCertificate,
  serialHexOf,
} from './certificate.ts';
import * as der from './der.ts';
import { PkiError, wrapDer } from './errors.ts';
import { loadPrivateKey, parseP256Spki, publicKeyFromPem } from './keys.ts';
import { toPem } from './pem.ts';
import { checkCommonName, nameWithCommonName, OID, SIGNATURE_ALGORITHM, signAndWrap } from './x509.ts';

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
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

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value))
    : der.sequence(der.oid(id), der.octetString(value));
}

// Constant pieces of every certificate, encoded once.
const VERSION_3 = der.explicit(0, der.smallInteger(2));
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

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
function keyIdentifier(publicKeyBits: Uint8Array): Uint8Array {
  return createHash('sha1').update(publicKeyBits).digest();
}

// ---------------------------------------------------------------------------------------------------------------
// Validity and serial numbers

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

/**
 * A leaf certificate's validity from `now` for `lifetimeMs`: backdated an hour, so a peer whose clock
 * runs behind the issuer's (a site, a relay, the agents behind a relay) accepts it at once, but never by
 * more than a tenth of its life, so renewal at two thirds of it never falls due at once.
 */
export function backdatedValidity(now: Date, lifetimeMs: number): { notBefore: Date; notAfter: Date } {
  const backdateMs = Math.min(3600_000, lifetimeMs / 10);
  return { notBefore: new Date(now.getTime() - backdateMs), notAfter: new Date(now.getTime() + lifetimeMs) };
}

function validity(notBeforeIn: Date, notAfterIn: Date): { notBefore: Date; notAfter: Date; der: Uint8Array } {
  const notBefore = truncateToSeconds(notBeforeIn, 'notBefore');
  const notAfter = truncateToSeconds(notAfterIn, 'notAfter');
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new PkiError('certificate_invalid', 'notAfter must be later than notBefore');
  }
  return { notBefore, notAfter, der: der.sequence(der.time(notBefore), der.time(notAfter)) };
}

/** 16 random bytes, top bit clear and first byte non-zero: always 32 hex digits, about 127 bits of entropy. */
function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  while ((bytes[0]! & 0x7f) === 0) bytes[0] = randomBytes(1)[0]!;
  bytes[0]! &= 0x7f;
  return bytes;
}

function serialBytes(serialHex: string | undefined): Uint8Array {
  return serialHex === undefined ? randomSerial() : Buffer.from(normalizeSerialHex(serialHex), 'hex');
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
// Creating a CA and issuing certificates

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
    serialHex: serialHexOf(serial),
    notAfter: times.notAfter,
    fingerprintSha256: fingerprintOfDer(cert),
  };
}
