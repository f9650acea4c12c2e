// Reading certificates back: serial normalization as node reports it, certificateInfo against
// X509Certificate, and refusal of anything that is not a certificate (fuzzed).

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { certificateInfo, fingerprintSha256, normalizeSerialHex } from './certificate.ts';
import { createCsr } from './csr.ts';
import * as der from './der.ts';
import { PkiError } from './errors.ts';
import { assertPkiError, ca, derToPem, issue, pemToDer, site } from './test-fixture.ts';

describe('serial numbers', () => {
  test('default serials are 16 bytes, positive, lower-case, unique, and equal node serialNumber', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const c = issue();
      assert.match(c.serialHex, /^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);
      assert.equal(new X509Certificate(c.certPem).serialNumber.toLowerCase(), c.serialHex);
      seen.add(c.serialHex);
    }
    assert.equal(seen.size, 200);
  });

  const cases: Array<[string, string]> = [
    ['1', '01'],
    ['01', '01'],
    ['00ff', 'ff'],
    ['FF', 'ff'],
    ['0100', '0100'],
    ['abcDEF', 'abcdef'],
    ['80', '80'],
    [`7f${'00'.repeat(19)}`, `7f${'00'.repeat(19)}`],
  ];
  for (const [input, normalized] of cases) {
    test(`serial ${input} is stored as ${normalized}, as node reports it`, () => {
      assert.equal(normalizeSerialHex(input), normalized);
      const c = issue({ serialHex: input });
      assert.equal(c.serialHex, normalized);
      assert.equal(new X509Certificate(c.certPem).serialNumber, normalized.toUpperCase());
      assert.equal(certificateInfo(c.certPem).serialHex, normalized);
    });
  }

  test('unusable serials are refused', () => {
    for (const bad of ['', '0', '0000', 'xyz', '-1', '0x10', `80${'00'.repeat(19)}`, '01'.repeat(21)]) {
      assertPkiError(() => issue({ serialHex: bad }), 'certificate_invalid', /serial/);
    }
  });
});

describe('certificateInfo', () => {
  test('reports what was issued and agrees with X509Certificate', () => {
    const c = issue({ uris: ['spiffe://outpost/sites/a', 'https://example.com/x'] });
    const info = certificateInfo(c.certPem);
    const x = new X509Certificate(c.certPem);
    assert.deepEqual(info, {
      serialHex: c.serialHex,
      notBefore: x.validFromDate,
      notAfter: c.notAfter,
      commonName: 'site-1',
      uris: ['spiffe://outpost/sites/a', 'https://example.com/x'],
      fingerprintSha256: c.fingerprintSha256,
    });
    assert.equal(certificateInfo(ca.certPem).commonName, 'Outpost test CA');
    assert.deepEqual(certificateInfo(ca.certPem).uris, []);
  });

  test('refuses what is not a certificate', () => {
    assertPkiError(() => certificateInfo('hello'), 'certificate_invalid', /not PEM/);
    assertPkiError(
      () => certificateInfo(createCsr({ commonName: 'x', keyPem: site.privateKeyPem })),
      'certificate_invalid',
    );
    assertPkiError(() => certificateInfo(derToPem('CERTIFICATE', der.sequence())), 'certificate_invalid');
    assertPkiError(
      () => fingerprintSha256(derToPem('CERTIFICATE', Uint8Array.of(1, 2, 3))),
      'certificate_invalid',
    );
  });

  test('fuzz: mutated certificates give a result or a PkiError, never anything else', {
    timeout: 60_000,
  }, () => {
    const valid = pemToDer(issue().certPem);
    const mutation = fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 3,
    });
    fc.assert(
      fc.property(mutation, (changes) => {
        const bytes = Buffer.from(valid);
        for (const [at, value] of changes) bytes[at] = value;
        try {
          certificateInfo(derToPem('CERTIFICATE', bytes));
        } catch (err) {
          if (!(err instanceof PkiError)) throw err;
        }
      }),
      { numRuns: 1500 },
    );
  });
});
