import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeJoinToken,
  decodeRelayJoinToken,
  encodeJoinToken,
  encodeRelayJoinToken,
} from './join-token.ts';

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

test('a join token carries the relays its sites call first', () => {
  const relays = ['https://relay-west.example:7443', 'https://relay-west-2.example:7443'];
  assert.deepEqual(decodeJoinToken(encodeJoinToken({ ...base, relays })), { ...base, relays });
});

test('a relay join token is not a site join token, nor the other way round', () => {
  const relayToken = encodeRelayJoinToken(base);
  assert.deepEqual(decodeRelayJoinToken(relayToken), base);
  assert.equal(decodeJoinToken(relayToken), undefined);
  assert.equal(decodeRelayJoinToken(encodeJoinToken(base)), undefined);
});
