import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeJoinToken,
  decodeRelayJoinToken,
  encodeJoinToken,
  encodeRelayJoinToken,
} from './join-token.ts';

const base = { hub: 'https://hub.example:7070', caSha256: 'a'.repeat(64), token: 'id.secret' };

test('a join token carries the relays its sites call first', () => {
  const relays = ['https://relay-west.example:7443', 'https://relay-west-2.example:7443'];
  assert.deepEqual(decodeJoinToken(encodeJoinToken({ ...base, relays })), { ...base, relays });
  assert.deepEqual(decodeJoinToken(encodeJoinToken(base)), base);
});

test('a relay join token is not a site join token, nor the other way round', () => {
  const relayToken = encodeRelayJoinToken(base);
  assert.deepEqual(decodeRelayJoinToken(relayToken), base);
  assert.equal(decodeJoinToken(relayToken), undefined);
  assert.equal(decodeRelayJoinToken(encodeJoinToken(base)), undefined);
});
