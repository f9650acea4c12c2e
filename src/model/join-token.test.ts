import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJoinToken, encodeJoinToken } from './join-token.ts';

const base = { hub: 'https://hub.example:7070', caSha256: 'ab'.repeat(32), token: 'id.secret' };

test('a join token carries the release key when the hub has one, and reads back as it was', () => {
  const releaseKey = 'MCowBQYDK2VwAyEA3q8MJcKpx0/J9m6+NyVEiXk1g3q0FzQn7Ux7eMdx0bE=';
  assert.deepEqual(decodeJoinToken(encodeJoinToken({ ...base, releaseKey })), { ...base, releaseKey });
  assert.deepEqual(decodeJoinToken(encodeJoinToken(base)), base);
});

test('tokens made before release keys still read, without one', () => {
  const old = `outpost-join-v1.${Buffer.from(JSON.stringify({ hub: base.hub, ca: base.caSha256, token: base.token })).toString('base64url')}`;
  assert.deepEqual(decodeJoinToken(old), base);
});

test('text that is not a join token reads as nothing', () => {
  assert.equal(decodeJoinToken('outpost-join-v2.abc'), undefined);
  const badKey = `outpost-join-v1.${Buffer.from(JSON.stringify({ hub: base.hub, ca: base.caSha256, token: base.token, rk: 7 })).toString('base64url')}`;
  assert.equal(decodeJoinToken(badKey), undefined);
});
