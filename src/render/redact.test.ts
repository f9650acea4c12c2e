import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { KubeObject } from '../model/manifest.ts';
import { redactedValue, redactSecret } from './redact.ts';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex').slice(0, 16);

test('a Secret keeps its keys; each value becomes the digest of its bytes', () => {
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', labels: { app: 'pos' } },
    type: 'kubernetes.io/tls',
    data: { 'tls.key': Buffer.from('private').toString('base64') },
    stringData: { token: 'abc' },
  };
  const shown = redactSecret(secret);
  assert.deepEqual(shown.data, { 'tls.key': `redacted sha256:${sha('private')}` });
  assert.deepEqual(shown.stringData, { token: `redacted sha256:${sha('abc')}` });
  assert.equal(shown.type, 'kubernetes.io/tls');
  assert.deepEqual(shown.metadata, secret.metadata);
  assert.equal((secret.data as Record<string, string>)['tls.key'], Buffer.from('private').toString('base64'));
});

test('the same value in data and stringData shows the same digest', () => {
  assert.equal(redactedValue(Buffer.from('v').toString('base64'), true), redactedValue('v', false));
});

test('malformed values are digested as written, never shown', () => {
  const shown = redactSecret({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's' },
    data: { bad: '%%not base64%%', n: 42, nested: { deep: 'x' } },
    stringData: 'a string where a map belongs',
  });
  assert.equal((shown.data as Record<string, string>).bad, `redacted sha256:${sha('%%not base64%%')}`);
  assert.match((shown.data as Record<string, string>).n!, /^redacted sha256:[0-9a-f]{16}$/);
  assert.match((shown.data as Record<string, string>).nested!, /^redacted sha256:/);
  assert.match(shown.stringData as string, /^redacted sha256:/);
});

test('a __proto__ key stays a key', () => {
  const data = JSON.parse('{"__proto__": "eA=="}') as Record<string, string>;
  const shown = redactSecret({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data });
  assert.deepEqual(Object.keys(shown.data as object), ['__proto__']);
});

test('other kinds, and Secret-named kinds of other groups, are left as they are', () => {
  const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } };
  assert.equal(redactSecret(cm), cm);
  const custom: KubeObject = {
    apiVersion: 'example.com/v1',
    kind: 'Secret',
    metadata: { name: 'c' },
    data: {},
  };
  assert.equal(redactSecret(custom), custom);
});
