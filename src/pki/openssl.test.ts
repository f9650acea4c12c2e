// Cross-checks the PKI module against the openssl CLI as an independent implementation: chain verification,
// extension text, CSRs in both directions, and refusal of CSRs openssl makes with keys we do not accept.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CertificateAuthority, createCa, type IssueOptions, issueCertificate } from './authority.ts';
import { certificateInfo } from './certificate.ts';
import { createCsr, verifyCsr } from './csr.ts';
import { PkiError } from './errors.ts';
import { generateKeyPair } from './keys.ts';

interface RunResult {
  code: number;
  output: string;
}

/** Runs openssl without a shell; resolves with the exit code and stdout+stderr, whatever the code. */
function openssl(args: string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err === null ? 0 : (err.code as number), output: `${stdout}${stderr}` });
    });
  });
}

async function opensslOk(args: string[], cwd: string): Promise<string> {
  const r = await openssl(args, cwd);
  assert.equal(r.code, 0, `openssl ${args.join(' ')} failed:\n${r.output}`);
  return r.output;
}

const HOUR = 3600_000;
const now = Date.now();
let dir = '';
const ca = createCa({
  commonName: 'Outpost CA',
  notBefore: new Date(now - HOUR),
  notAfter: new Date(now + 1000 * HOUR),
});
const otherCa = createCa({
  commonName: 'Outpost CA',
  notBefore: new Date(now - HOUR),
  notAfter: new Date(now + HOUR),
});
const site = generateKeyPair();

function issue(overrides: Partial<IssueOptions> = {}, authority: CertificateAuthority = ca) {
  return issueCertificate(authority, {
    publicKeyPem: site.publicKeyPem,
    commonName: 'site-1',
    uris: ['spiffe://outpost/sites/site-1'],
    dnsNames: ['site-1.example'],
    ipAddresses: ['127.0.0.1'],
    usage: 'client',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 24 * HOUR),
    ...overrides,
  });
}

async function file(name: string, content: string): Promise<string> {
  await writeFile(join(dir, name), content);
  return name;
}

function assertCsrInvalid(fn: () => unknown, message: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof PkiError && err.code === 'csr_invalid' && message.test(err.message),
  );
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outpost-pki-'));
  await file('ca.pem', ca.certPem);
  await file('other-ca.pem', otherCa.certPem);
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('openssl verify', () => {
  test('client certificate chains to the CA (strict X.509, sslclient purpose)', async () => {
    await file('client.pem', issue().certPem);
    assert.match(await opensslOk(['verify', '-CAfile', 'ca.pem', 'client.pem'], dir), /^client\.pem: OK$/m);
    assert.match(
      await opensslOk(
        ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'ca.pem', 'client.pem'],
        dir,
      ),
      /client\.pem: OK/,
    );
  });

  test('server certificate chains to the CA for the sslserver purpose, not for sslclient', async () => {
    await file('server.pem', issue({ usage: 'server' }).certPem);
    await opensslOk(
      ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', 'ca.pem', 'server.pem'],
      dir,
    );
    const wrongPurpose = await openssl(
      ['verify', '-purpose', 'sslclient', '-CAfile', 'ca.pem', 'server.pem'],
      dir,
    );
    assert.notEqual(wrongPurpose.code, 0);
    assert.match(wrongPurpose.output, /unsuitable certificate purpose/);
  });

  test('the CA itself verifies as a self-signed root', async () => {
    await opensslOk(['verify', '-x509_strict', '-CAfile', 'ca.pem', 'ca.pem'], dir);
  });

  test('a certificate from another CA with the same name does not verify', async () => {
    await file('foreign.pem', issue({}, otherCa).certPem);
    const r = await openssl(['verify', '-CAfile', 'ca.pem', 'foreign.pem'], dir);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /unable to get local issuer certificate|signature failure/);
  });

  test('a certificate outside its validity does not verify', async () => {
    await file(
      'expired.pem',
      issue({ notBefore: new Date(now - 3 * HOUR), notAfter: new Date(now - 2 * HOUR) }).certPem,
    );
    const r = await openssl(['verify', '-CAfile', 'ca.pem', 'expired.pem'], dir);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /expired/);
  });
});

describe('openssl x509 -text shows the extensions', () => {
  test('client certificate', async () => {
    await file('client-text.pem', issue({ serialHex: '0abc' }).certPem);
    const text = await opensslOk(['x509', '-in', 'client-text.pem', '-noout', '-text'], dir);
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, /Serial Number: 2748 \(0xabc\)/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /Issuer: CN = Outpost CA/);
    assert.match(text, /Subject: CN = site-1/);
    assert.match(text, /ASN1 OID: prime256v1/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /X509v3 Extended Key Usage: \s*\n\s+TLS Web Client Authentication\n/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    assert.match(text, /DNS:site-1\.example, URI:spiffe:\/\/outpost\/sites\/site-1, IP Address:127\.0\.0\.1/);
  });

  test('server certificate', async () => {
    await file('server-text.pem', issue({ usage: 'server' }).certPem);
    const text = await opensslOk(['x509', '-in', 'server-text.pem', '-noout', '-text'], dir);
    assert.match(text, /X509v3 Extended Key Usage: \s*\n\s+TLS Web Server Authentication\n/);
    assert.match(text, /CA:FALSE/);
  });

  test('CA certificate; the leaf AKI is the CA SKI', async () => {
    const caText = await opensslOk(['x509', '-in', 'ca.pem', '-noout', '-text'], dir);
    assert.match(caText, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(caText, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    const ski = /X509v3 Subject Key Identifier: \s*\n\s+([0-9A-F:]+)/.exec(caText)?.[1];
    assert.ok(ski !== undefined && ski.length === 59, caText);
    await file('leaf-aki.pem', issue().certPem);
    const leafText = await opensslOk(['x509', '-in', 'leaf-aki.pem', '-noout', '-text'], dir);
    assert.match(leafText, new RegExp(`X509v3 Authority Key Identifier: \\s*\\n\\s+(keyid:)?${ski}`));
  });

  test('strict DER: openssl re-encodes the certificate to the very same bytes', async () => {
    const pem = issue().certPem;
    await file('roundtrip.pem', pem);
    const out = join(dir, 'roundtrip.der');
    await opensslOk(['x509', '-in', 'roundtrip.pem', '-outform', 'DER', '-out', out], dir);
    const fromOpenssl = await readFile(out);
    assert.equal(fromOpenssl.toString('base64'), new X509Certificate(pem).raw.toString('base64'));
  });
});

describe('CSRs', () => {
  test('openssl req -verify accepts our CSR', async () => {
    await file('ours.csr', createCsr({ commonName: 'site-42', keyPem: site.privateKeyPem }));
    const out = await opensslOk(['req', '-verify', '-in', 'ours.csr', '-noout', '-subject'], dir);
    assert.match(out, /verify OK/);
    assert.match(out, /subject=CN = site-42/);
  });

  test('openssl req -verify refuses our CSR once tampered (the check can fail)', async () => {
    const csr = createCsr({ commonName: 'site-42', keyPem: site.privateKeyPem });
    const bytes = Buffer.from(csr.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    bytes[bytes.indexOf(Buffer.from('site-42')) + 6] = 0x33;
    await file(
      'tampered.csr',
      `-----BEGIN CERTIFICATE REQUEST-----\n${bytes.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`,
    );
    // OpenSSL 3.0 exits 0 either way; the message tells
    const r = await openssl(['req', '-verify', '-in', 'tampered.csr', '-noout'], dir);
    assert.match(r.output, /verify failure/);
    assert.doesNotMatch(r.output, /verify OK/);
  });

  test('a CSR from openssl req -new with an openssl P-256 key verifies, and the issued cert verifies', async () => {
    await opensslOk(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'p256.key'],
      dir,
    );
    await opensslOk(
      ['req', '-new', '-key', 'p256.key', '-subj', '/CN=site-openssl', '-out', 'p256.csr'],
      dir,
    );
    await opensslOk(['pkey', '-in', 'p256.key', '-pubout', '-out', 'p256.pub'], dir);
    const v = verifyCsr(await readFile(join(dir, 'p256.csr'), 'utf8'));
    assert.equal(v.commonName, 'site-openssl');
    assert.equal(v.publicKeyPem, await readFile(join(dir, 'p256.pub'), 'utf8'));
    await file('p256.pem', issue({ publicKeyPem: v.publicKeyPem, commonName: v.commonName }).certPem);
    await opensslOk(['verify', '-x509_strict', '-CAfile', 'ca.pem', 'p256.pem'], dir);
    // and our createCsr takes openssl's key too (a SEC1 key from ecparam as well)
    await opensslOk(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sec1.key'], dir);
    const sec1 = await readFile(join(dir, 'sec1.key'), 'utf8');
    assert.match(sec1, /BEGIN EC PRIVATE KEY/);
    await file('sec1.csr', createCsr({ commonName: 'site-sec1', keyPem: sec1 }));
    assert.match(await opensslOk(['req', '-verify', '-in', 'sec1.csr', '-noout'], dir), /verify OK/);
  });

  test('verifyCsr refuses an RSA CSR made by openssl', async () => {
    await opensslOk(
      [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'rsa.key',
        '-subj',
        '/CN=site-rsa',
        '-out',
        'rsa.csr',
      ],
      dir,
    );
    const csr = await readFile(join(dir, 'rsa.csr'), 'utf8');
    assertCsrInvalid(() => verifyCsr(csr), /unsupported key algorithm 1\.2\.840\.113549\.1\.1\.1/);
  });

  test('verifyCsr refuses a P-384 CSR and a SHA-384-signed P-256 CSR made by openssl', async () => {
    await opensslOk(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'p384.key'],
      dir,
    );
    await opensslOk(['req', '-new', '-key', 'p384.key', '-subj', '/CN=site-384', '-out', 'p384.csr'], dir);
    assertCsrInvalid(() => verifyCsr(readFileSyncUtf8('p384.csr')), /unsupported curve 1\.3\.132\.0\.34/);
    await opensslOk(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'k2.key'],
      dir,
    );
    await opensslOk(
      ['req', '-new', '-sha384', '-key', 'k2.key', '-subj', '/CN=site-sha384', '-out', 'sha384.csr'],
      dir,
    );
    assertCsrInvalid(
      () => verifyCsr(readFileSyncUtf8('sha384.csr')),
      /unsupported signature algorithm 1\.2\.840\.10045\.4\.3\.3/,
    );
  });
});

describe('an openssl-made CA used as ours', () => {
  test('issuer bytes are copied exactly (multi-RDN, PrintableString) and openssl verifies the chain', async () => {
    await writeFile(
      join(dir, 'ca.cnf'),
      [
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = v3',
        '[dn]',
        '[v3]',
        'basicConstraints = critical,CA:true',
        'keyUsage = critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier = hash',
        '',
      ].join('\n'),
    );
    await opensslOk(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'oca.key'],
      dir,
    );
    await opensslOk(
      [
        'req',
        '-x509',
        '-new',
        '-config',
        'ca.cnf',
        '-key',
        'oca.key',
        '-subj',
        '/C=DE/O=Outpost Test/CN=OpenSSL CA',
        '-days',
        '2',
        '-out',
        'oca.pem',
      ],
      dir,
    );
    const opensslCa = { certPem: readFileSyncUtf8('oca.pem'), keyPem: readFileSyncUtf8('oca.key') };
    const issued = issue({}, opensslCa);
    await file('from-oca.pem', issued.certPem);
    await opensslOk(['verify', '-x509_strict', '-CAfile', 'oca.pem', 'from-oca.pem'], dir);
    const x = new X509Certificate(issued.certPem);
    assert.equal(x.issuer, 'C=DE\nO=Outpost Test\nCN=OpenSSL CA');
    assert.ok(x.checkIssued(new X509Certificate(opensslCa.certPem)));
    assert.equal(certificateInfo(opensslCa.certPem).commonName, 'OpenSSL CA');
  });
});

function readFileSyncUtf8(name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}
