// Reading X.509 certificates, whoever issued them: serial, validity, subject CN, SAN URIs and fingerprint,
// with our own DER reader, and the one rule by which a serial is written as hex everywhere.

import { createHash, X509Certificate } from 'node:crypto';
import * as der from './der.ts';
import { PkiError, wrapDer } from './errors.ts';
import { pemOrThrow } from './pem.ts';
import { commonNamesOf, OID } from './x509.ts';

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

/** The serial's magnitude as read from DER, in the normalized form. */
export function serialHexOf(serial: Uint8Array): string {
  return Buffer.from(serial.buffer, serial.byteOffset, serial.byteLength).toString('hex');
}

/** Lower-case hex SHA-256 of a certificate's DER. */
export function fingerprintOfDer(certDer: Uint8Array): string {
  return createHash('sha256').update(certDer).digest('hex');
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing (our own DER reader; errors become PkiError)

interface ParsedExtension {
  critical: boolean;
  value: Uint8Array;
}

export interface ParsedCertificate {
  serial: Uint8Array;
  subject: der.Tlv;
  notBefore: Date;
  notAfter: Date;
  spki: der.Tlv;
  extensions: Map<string, ParsedExtension>;
}

/** The TBSCertificate fields we use. Any X.509 v1..v3 shape is read; the signature is not checked here. */
export function parseCertificate(derBytes: Uint8Array): ParsedCertificate {
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

export function certificateDer(certPem: string): Buffer {
  return pemOrThrow(certPem, 'CERTIFICATE', 'certificate_invalid', 'certificate');
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a certificate

/** Lower-case hex SHA-256 of the certificate's DER. */
export function fingerprintSha256(certPem: string): string {
  const bytes = certificateDer(certPem);
  wrapDer('certificate_invalid', 'malformed certificate', () =>
    der.expectTag(der.decodeOne(bytes), der.Tag.SEQUENCE, 'Certificate'),
  );
  return fingerprintOfDer(bytes);
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
      serialHex: serialHexOf(parsed.serial),
      notBefore: parsed.notBefore,
      notAfter: parsed.notAfter,
      commonName: commonNames[0] ?? '',
      uris,
      fingerprintSha256: fingerprintOfDer(bytes),
    };
  });
}
