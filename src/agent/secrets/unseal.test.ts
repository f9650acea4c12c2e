import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutpostError } from '../../model/errors.ts';
import type { KubeObject } from '../../model/manifest.ts';
import { sealingContext } from '../../model/sealed-secret.ts';
import { generateSealingKeyPair, type SealingKeyPair, sealValue } from '../../pki/sealing.ts';
import { createRenderer } from '../../render/rendered.ts';
import { unsealBundle } from './unseal.ts';

const site = (name: string) => ({ name, labels: {}, properties: {} });

async function sealedFor(sites: Record<string, SealingKeyPair>, values: Record<string, string>) {
  const encryptedData: Record<string, Record<string, string>> = {};
  for (const [key, value] of Object.entries(values)) {
    encryptedData[key] = {};
    for (const [name, keys] of Object.entries(sites))
      encryptedData[key][name] = await sealValue(
        keys.publicKey,
        new TextEncoder().encode(value),
        sealingContext('pos', 'till', key),
      );
  }
  return {
    apiVersion: 'outpost.dev/v1',
    kind: 'SealedSecret',
    metadata: { name: 'till', namespace: 'pos', labels: { app: 'till' } },
    spec: { type: 'Opaque', encryptedData },
  } satisfies KubeObject;
}

const configMap: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'menu' }, data: {} };

test('each site renders its own values only, and opens them into a plain Secret', async () => {
  const a = await generateSealingKeyPair();
  const b = await generateSealingKeyPair();
  const sealed = await sealedFor({ 'store-a': a, 'store-b': b }, { password: 'hunter2', pin: '1234' });
  const renderer = createRenderer({ bundle: 'pos', objects: [configMap, sealed] });
  assert.notEqual(renderer.keyOf(site('store-a')), renderer.keyOf(site('store-b')));
  const blobA = renderer.render(site('store-a'));
  const blobB = renderer.render(site('store-b'));
  assert.notEqual(blobA.digest, blobB.digest);
  assert.ok(
    !blobA.content.includes(sealed.spec.encryptedData.password!['store-b']!),
    "no other site's value",
  );
  assert.ok(!blobA.content.includes('hunter2'));

  const unsealed = await unsealBundle(blobA.rendered, a);
  assert.deepEqual(unsealed.objects[0], configMap);
  assert.deepEqual(unsealed.objects[1], {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'till', namespace: 'pos', labels: { app: 'till' } },
    type: 'Opaque',
    data: {
      password: Buffer.from('hunter2').toString('base64'),
      pin: Buffer.from('1234').toString('base64'),
    },
  });
  assert.ok(blobA.content.includes('SealedSecret'), 'the blob itself stays sealed');
});

test("a site cannot open another site's value, and says which key it was sealed to", async () => {
  const a = await generateSealingKeyPair();
  const b = await generateSealingKeyPair();
  // store-a's value put under store-b's name: what store-b gets is not sealed to its key
  const forStoreA = await sealedFor({ 'store-a': a }, { password: 'hunter2' });
  forStoreA.spec.encryptedData.password = { 'store-b': forStoreA.spec.encryptedData.password!['store-a']! };
  const blob = createRenderer({ bundle: 'pos', objects: [forStoreA] }).render(site('store-b'));
  await assert.rejects(unsealBundle(blob.rendered, b), (e: Error) => {
    assert.match(e.message, /^SealedSecret pos\/till key password is sealed to key [0-9a-f]{16}/);
    assert.match(e.message, /outpost secret seal -f FILE --bundle pos$/);
    assert.ok(!e.message.includes('hunter2'));
    return true;
  });
});

test('a site with no value sealed for it fails to render alone, naming the keys', async () => {
  const a = await generateSealingKeyPair();
  const renderer = createRenderer({
    bundle: 'pos',
    objects: [await sealedFor({ 'store-a': a }, { k: 'v' })],
  });
  assert.doesNotThrow(() => renderer.render(site('store-a')));
  assert.throws(
    () => renderer.render(site('store-new')),
    (e: Error) =>
      e instanceof OutpostError &&
      e.code === 'render_failed' &&
      e.site === 'store-new' &&
      /SealedSecret pos\/till has no value sealed for site store-new \(k\)/.test(e.message),
  );
});

test('a bundle without SealedSecrets is passed through as it is', async () => {
  const blob = createRenderer({ bundle: 'pos', objects: [configMap] }).render(site('store-a'));
  assert.equal(await unsealBundle(blob.rendered, await generateSealingKeyPair()), blob.rendered);
});
