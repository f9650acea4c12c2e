// The hub's certificate authority and its serving certificate. The CA is made on first start (key in
// the data directory, mode 0600) or supplied by the operator; the serving certificate is issued fresh
// at each start for the names the hub is reached by, unless the operator supplies one.

import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type CertificateAuthority, createCa, issueCertificate } from '../../pki/authority.ts';
import { fingerprintSha256 } from '../../pki/certificate.ts';
import { generateKeyPair } from '../../pki/keys.ts';

export interface HubTls {
  ca: CertificateAuthority;
  caSha256: string;
  /** what the HTTPS server presents */
  serverCertPem: string;
  serverKeyPem: string;
}

export interface TlsOptions {
  dataDir: string;
  /** operator-supplied CA (both or neither) */
  caCertFile?: string;
  caKeyFile?: string;
  /** operator-supplied serving certificate (both or neither) */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** host names and addresses the hub is reached by (added to localhost and 127.0.0.1) */
  names?: string[];
  now: Date;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function loadOrCreateCa(opts: TlsOptions): Promise<CertificateAuthority> {
  if (opts.caCertFile || opts.caKeyFile) {
    if (!opts.caCertFile || !opts.caKeyFile) throw new Error('--ca-cert and --ca-key go together');
    return {
      certPem: await readFile(opts.caCertFile, 'utf8'),
      keyPem: await readFile(opts.caKeyFile, 'utf8'),
    };
  }
  const certPath = join(opts.dataDir, 'ca.crt');
  const keyPath = join(opts.dataDir, 'ca.key');
  const [certPem, keyPem] = [await readIfExists(certPath), await readIfExists(keyPath)];
  if (certPem && keyPem) return { certPem, keyPem };
  const ca = createCa({
    commonName: 'Outpost hub CA',
    notBefore: new Date(opts.now.getTime() - 3600_000),
    notAfter: new Date(opts.now.getTime() + 10 * 365 * 86400_000),
  });
  await writeFile(keyPath, ca.keyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(certPath, ca.certPem, { mode: 0o644, flag: 'wx' });
  return ca;
}

export async function hubTls(opts: TlsOptions): Promise<HubTls> {
  const ca = await loadOrCreateCa(opts);
  let serverCertPem: string;
  let serverKeyPem: string;
  if (opts.tlsCertFile || opts.tlsKeyFile) {
    if (!opts.tlsCertFile || !opts.tlsKeyFile) throw new Error('--tls-cert and --tls-key go together');
    serverCertPem = await readFile(opts.tlsCertFile, 'utf8');
    serverKeyPem = await readFile(opts.tlsKeyFile, 'utf8');
  } else {
    const names = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), ...(opts.names ?? [])])];
    const keys = generateKeyPair();
    const issued = issueCertificate(ca, {
      publicKeyPem: keys.publicKeyPem,
      commonName: 'outpost-hub',
      dnsNames: names.filter((n) => !isIP(n)),
      ipAddresses: names.filter((n) => isIP(n)),
      usage: 'server',
      notBefore: new Date(opts.now.getTime() - 3600_000),
      notAfter: new Date(opts.now.getTime() + 365 * 86400_000),
    });
    serverCertPem = issued.certPem;
    serverKeyPem = keys.privateKeyPem;
  }
  return { ca, caSha256: fingerprintSha256(ca.certPem), serverCertPem, serverKeyPem };
}

/** A throwaway CA and serving certificate held only in memory (tests, or a hub without a data dir). */
export function ephemeralTls(now: Date): HubTls {
  const ca = createCa({
    commonName: 'Outpost hub CA (ephemeral)',
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + 365 * 86400_000),
  });
  const keys = generateKeyPair();
  const issued = issueCertificate(ca, {
    publicKeyPem: keys.publicKeyPem,
    commonName: 'outpost-hub',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    usage: 'server',
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + 365 * 86400_000),
  });
  return {
    ca,
    caSha256: fingerprintSha256(ca.certPem),
    serverCertPem: issued.certPem,
    serverKeyPem: keys.privateKeyPem,
  };
}
