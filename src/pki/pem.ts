// PEM (RFC 7468): DER bytes to and from their base64 armour, strictly, so a malformed or doubled block is
// refused with a reason rather than half-read.

import { PkiError, type PkiErrorCode } from './errors.ts';

export function toPem(label: string, bytes: Uint8Array): string {
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
export function fromPem(text: string, label: string): Buffer | string {
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

/** {@link fromPem}, throwing a PkiError with `code` whose message starts with `what`. */
export function pemOrThrow(text: string, label: string, code: PkiErrorCode, what: string): Buffer {
  const result = fromPem(text, label);
  if (typeof result === 'string') throw new PkiError(code, `${what}: ${result}`);
  return result;
}
