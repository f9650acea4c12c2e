import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redacted, secretValuesOf } from './status-redaction.ts';

test("a Secret's values, as text and as base64, are scrubbed from every string of a status", () => {
  const values = secretValuesOf([
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      data: { pw: Buffer.from('hunter22').toString('base64') },
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 't' }, stringData: { pin: '98765', tiny: 'ab' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { shown: 'visible' } },
  ]);
  assert.ok(values.includes('hunter22') && values.includes('98765'));
  assert.ok(!values.includes('ab'), 'values too short to scrub are left out');
  const status = {
    site: 'store-1',
    deployments: [
      { message: 'admission webhook denied: env PASSWORD="hunter22" is not allowed', counts: { total: 1 } },
      { message: `data.pw: ${Buffer.from('hunter22').toString('base64')}; pin 98765; visible` },
    ],
  };
  const out = redacted(status, values);
  assert.equal(
    out.deployments[0]!.message,
    'admission webhook denied: env PASSWORD="[redacted]" is not allowed',
  );
  assert.equal(out.deployments[1]!.message, 'data.pw: [redacted]; pin [redacted]; visible');
  assert.deepEqual(out.deployments[0]!.counts, { total: 1 });
  assert.equal(status.deployments[0]!.message.includes('hunter22'), true, 'the input is not changed');
});

test('credentials are scrubbed whatever the message', () => {
  const text = [
    'token olp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'api oat_0190f3a2-0000-7000-8000-000000000001.s3cretsecretsecret',
    'join outpost-join-v1.eyJodWIiOiJodHRwczovL2h1YiJ9',
    '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----',
  ].join(' | ');
  assert.equal(redacted(text, []), 'token [redacted] | api [redacted] | join [redacted] | [redacted]');
});
