// Throughput check for the PKI hot path (not a test): certificates issued/s, CSRs verified/s, both together.
// Run: node src/pki/bench.ts [seconds per measurement, default 2]

import { createCa, issueCertificate } from './authority.ts';
import { createCsr, verifyCsr } from './csr.ts';
import { generateKeyPair } from './keys.ts';

const seconds = Number(process.argv[2] ?? 2);
const ca = createCa({
  commonName: 'Outpost bench CA',
  notBefore: new Date(),
  notAfter: new Date(Date.now() + 864e8),
});
const keys = Array.from({ length: 256 }, () => generateKeyPair());
const csrs = keys.map((k, i) => createCsr({ commonName: `site-${i}`, keyPem: k.privateKeyPem }));
const notBefore = new Date();
const notAfter = new Date(Date.now() + 30 * 864e5);

function measure(name: string, op: (i: number) => void): void {
  for (let i = 0; i < 500; i++) op(i); // warm-up
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < deadline) {
    for (let j = 0; j < 100; j++) op(n++);
  }
  const elapsed = (performance.now() - start) / 1000;
  console.log(`${name}: ${Math.round(n / elapsed)}/s (${((elapsed / n) * 1e6).toFixed(1)} µs each)`);
}

const issue = (publicKeyPem: string, commonName: string, authority = ca) =>
  issueCertificate(authority, {
    publicKeyPem,
    commonName,
    uris: [`spiffe://outpost/site/${commonName}`],
    usage: 'client',
    notBefore,
    notAfter,
  });

measure('issueCertificate', (i) => issue(keys[i % keys.length]!.publicKeyPem, `site-${i}`));
measure('verifyCsr', (i) => verifyCsr(csrs[i % csrs.length]!));
measure('verifyCsr + issueCertificate', (i) => {
  const v = verifyCsr(csrs[i % csrs.length]!);
  issue(v.publicKeyPem, v.commonName);
});
measure('issueCertificate, CA object rebuilt per call', (i) =>
  issue(keys[i % keys.length]!.publicKeyPem, `site-${i}`, { certPem: ca.certPem, keyPem: ca.keyPem }),
);
