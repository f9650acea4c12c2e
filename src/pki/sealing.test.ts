import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  generateSealingKeyPair,
  hpkeOpen,
  hpkeSeal,
  isSealingPublicKey,
  openValue,
  sealingKeyId,
  sealValue,
  UnsealError,
} from './sealing.ts';

const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const text = (s: string) => new TextEncoder().encode(s);

// RFC 9180, Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode, sequence 0.
const rfc = {
  skRm: '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
  pkRm: '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
  enc: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  info: '4f6465206f6e2061204772656369616e2055726e',
  aad: '436f756e742d30',
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  ct: 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a',
};

test('the suite opens the RFC 9180 A.1.1 test vector, and a changed byte does not open', async () => {
  const opened = await hpkeOpen(hex(rfc.skRm), hex(rfc.enc), hex(rfc.ct), hex(rfc.info), hex(rfc.aad));
  assert.equal(Buffer.from(opened).toString('hex'), rfc.pt);
  const tampered = hex(rfc.ct);
  tampered[3]! ^= 1;
  await assert.rejects(hpkeOpen(hex(rfc.skRm), hex(rfc.enc), tampered, hex(rfc.info), hex(rfc.aad)));
});

test('a value sealed to the RFC recipient key opens with its private key', async () => {
  const { enc, ct } = await hpkeSeal(hex(rfc.pkRm), text('till secret'), text('ctx'));
  assert.equal(new TextDecoder().decode(await hpkeOpen(hex(rfc.skRm), enc, ct, text('ctx'))), 'till secret');
});

test('a sealed value opens only with its own site key and in its own place', async () => {
  const site = await generateSealingKeyPair();
  const other = await generateSealingKeyPair();
  assert.ok(isSealingPublicKey(site.publicKey));
  assert.equal(Buffer.from(site.privateKey, 'base64url').length, 32);
  const envelope = await sealValue(site.publicKey, text('s3cret'), 'pos/till key');
  assert.match(envelope, new RegExp(`^hpke1\\.${sealingKeyId(site.publicKey)}\\.`));
  assert.ok(!envelope.includes(Buffer.from('s3cret').toString('base64')), 'no plaintext in the envelope');
  assert.equal(new TextDecoder().decode(await openValue(site, envelope, 'pos/till key')), 's3cret');

  await assert.rejects(openValue(other, envelope, 'pos/till key'), (e: Error) => {
    assert.ok(e instanceof UnsealError);
    assert.match(e.message, new RegExp(`sealed to key ${sealingKeyId(site.publicKey)}`));
    assert.match(e.message, new RegExp(`this site's sealing key is ${sealingKeyId(other.publicKey)}`));
    return true;
  });
  // another site's key forged into the envelope's key id still does not open it
  const forged = envelope.replace(sealingKeyId(site.publicKey), sealingKeyId(other.publicKey));
  await assert.rejects(openValue(other, forged, 'pos/till key'), /does not open with this site's key/);
  await assert.rejects(openValue(site, envelope, 'pos/other key'), /does not open/);
  await assert.rejects(openValue(site, 'plain text', 'pos/till key'), /is not a sealed value/);
});

test('key ids are stable and differ between keys', async () => {
  const a = await generateSealingKeyPair();
  const b = await generateSealingKeyPair();
  assert.equal(sealingKeyId(a.publicKey), sealingKeyId(a.publicKey));
  assert.match(sealingKeyId(a.publicKey), /^[0-9a-f]{16}$/);
  assert.notEqual(sealingKeyId(a.publicKey), sealingKeyId(b.publicKey));
  assert.equal(isSealingPublicKey('too-short'), false);
});
