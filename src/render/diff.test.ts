import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../model/manifest.ts';
import { objectChanges } from './diff.ts';

const cm = (name: string, data: Record<string, string>, namespace = 'pos'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data,
});

test('a plan diff lists added, changed (with a JSON Patch from the current object) and removed objects', () => {
  const changes = objectChanges(
    [cm('kept', { a: '1' }), cm('edited', { a: '1', b: '2' }), cm('dropped', {})],
    [cm('kept', { a: '1' }), cm('edited', { a: '9', b: '2' }), cm('new', {})],
  );
  assert.deepEqual(changes, {
    added: ['ConfigMap pos/new'],
    changed: [{ object: 'ConfigMap pos/edited', diff: [{ op: 'replace', path: '/data/a', value: '9' }] }],
    removed: ['ConfigMap pos/dropped'],
  });
});

test('key order does not count as a change', () => {
  const a = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: '1', b: '2' } };
  const b = { kind: 'ConfigMap', data: { b: '2', a: '1' }, metadata: { name: 'x' }, apiVersion: 'v1' };
  assert.deepEqual(objectChanges([a], [b]), { added: [], changed: [], removed: [] });
});
