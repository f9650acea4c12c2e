import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from './manifest.ts';
import { envelopeOf, envelopeParts, sealedSecretForSite, sealedSecretProblem } from './sealed-secret.ts';

const envelope = envelopeOf({ keyId: '0123456789abcdef', enc: 'A'.repeat(43), ct: 'B'.repeat(30) });

function sealed(spec: unknown, namespace: string | null = 'pos'): KubeObject {
  return {
    apiVersion: 'outpost.dev/v1',
    kind: 'SealedSecret',
    metadata: { name: 'till', ...(namespace ? { namespace } : {}) },
    spec,
  };
}

test('a well-formed SealedSecret has no problem; each malformed part is named by its path', () => {
  const good = { type: 'Opaque', encryptedData: { 'api-key': { 'store-1': envelope } } };
  assert.equal(sealedSecretProblem(sealed(good)), undefined);
  const cases: Array<[KubeObject, string[], RegExp]> = [
    [sealed(good, null), ['metadata', 'namespace'], /required/],
    [sealed({ ...good, data: {} }), ['spec', 'data'], /unknown field/],
    [sealed({ encryptedData: {} }), ['spec', 'encryptedData'], /maps each key/],
    [
      sealed({ encryptedData: { 'bad key': { s: envelope } } }),
      ['spec', 'encryptedData', 'bad key'],
      /Secret key/,
    ],
    [
      sealed({ encryptedData: { k: { Store_1: envelope } } }),
      ['spec', 'encryptedData', 'k', 'Store_1'],
      /site name/,
    ],
    [
      sealed({ encryptedData: { k: { s: 'cGxhaW4=' } } }),
      ['spec', 'encryptedData', 'k', 's'],
      /not a sealed value/,
    ],
  ];
  for (const [obj, path, message] of cases) {
    const problem = sealedSecretProblem(obj);
    assert.deepEqual(problem?.path, path);
    assert.match(problem!.message, message);
  }
});

test('an envelope reads back into its parts', () => {
  assert.deepEqual(envelopeParts(envelope), {
    keyId: '0123456789abcdef',
    enc: 'A'.repeat(43),
    ct: 'B'.repeat(30),
  });
  assert.equal(envelopeParts('hpke1.nothex.x.y'), undefined);
});

test("a site's document keeps only its own values, and names the keys it has none for", () => {
  const doc = sealed({
    encryptedData: { a: { 'store-1': envelope, 'store-2': `${envelope}x` }, b: { 'store-2': envelope } },
  });
  const one = sealedSecretForSite(doc, 'store-1');
  assert.deepEqual(one.missing, ['b']);
  assert.deepEqual((one.object.spec as { encryptedData: unknown }).encryptedData, {
    a: { 'store-1': envelope },
  });
  const two = sealedSecretForSite(doc, 'store-2');
  assert.deepEqual(two.missing, []);
  assert.deepEqual((two.object.spec as { encryptedData: unknown }).encryptedData, {
    a: { 'store-2': `${envelope}x` },
    b: { 'store-2': envelope },
  });
  assert.deepEqual(sealedSecretForSite(doc, 'constructor').missing, ['a', 'b']);
});
