// The CA, site key pair and helpers the PKI's unit tests share (a test module, not part of the PKI):
// certificates issued with one set of defaults, PkiError assertions, and DER to PEM and back.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { type CertificateAuthority, createCa, type IssueOptions, issueCertificate } from './authority.ts';
import { PkiError } from './errors.ts';
import { generateKeyPair } from './keys.ts';

export const HOUR = 3600_000;
export const now = new Date();
const caValidity = {
  notBefore: new Date(now.getTime() - HOUR),
  notAfter: new Date(now.getTime() + 10 * 365 * 24 * HOUR),
};
export const ca = createCa({ commonName: 'Outpost test CA', ...caValidity });
export const otherCa = createCa({ commonName: 'Someone else', ...caValidity });
export const caX509 = new X509Certificate(ca.certPem);
export const site = generateKeyPair();

export function issue(overrides: Partial<IssueOptions> = {}, authority: CertificateAuthority = ca) {
  return issueCertificate(authority, {
    publicKeyPem: site.publicKeyPem,
    commonName: 'site-1',
    uris: ['spiffe://outpost/sites/site-1'],
    dnsNames: ['site-1.sites.outpost.example'],
    ipAddresses: ['127.0.0.1'],
    usage: 'client',
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 30 * 24 * HOUR),
    ...overrides,
  });
}

export function assertPkiError(fn: () => unknown, code: PkiError['code'], message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PkiError, `expected PkiError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

export function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

export function derToPem(label: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;
}
