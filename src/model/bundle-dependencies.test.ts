import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dependencyOrder, dependencyProblems } from './bundle-dependencies.ts';

const graph = (entries: Record<string, string[]>) => new Map(Object.entries(entries));

test('a sound graph has no problems', () => {
  assert.deepEqual(dependencyProblems(graph({ pos: ['pos-crds', 'base'], 'pos-crds': ['base'], base: [] })), {
    missing: [],
  });
});

test('a missing dependency is named with the bundle that wants it', () => {
  assert.deepEqual(dependencyProblems(graph({ pos: ['pos-crds', 'nowhere'], 'pos-crds': [] })).missing, [
    { bundle: 'pos', dependency: 'nowhere' },
  ]);
});

test('a cycle is named as the path that closes it, self-dependence included', () => {
  assert.deepEqual(dependencyProblems(graph({ a: ['b'], b: ['c'], c: ['a'], d: [] })).cycle, [
    'a',
    'b',
    'c',
    'a',
  ]);
  assert.deepEqual(dependencyProblems(graph({ x: [], a: ['a'] })).cycle, ['a', 'a']);
  assert.deepEqual(dependencyProblems(graph({ top: ['a'], a: ['b'], b: ['a'] })).cycle, ['a', 'b', 'a']);
});

test('the order puts each bundle after its dependencies and keeps the given order otherwise', () => {
  const deps = graph({ pos: ['pos-crds'], monitoring: [], 'pos-crds': ['base'], base: [] });
  const of = (n: string) => deps.get(n) ?? [];
  assert.deepEqual(dependencyOrder(['pos', 'monitoring', 'pos-crds', 'base'], of), [
    'base',
    'pos-crds',
    'pos',
    'monitoring',
  ]);
  // a dependency not among the names does not hold anything up here
  assert.deepEqual(dependencyOrder(['pos', 'monitoring'], of), ['pos', 'monitoring']);
  // a cycle still gives every name once
  const cyclic = graph({ a: ['b'], b: ['a'] });
  assert.deepEqual(dependencyOrder(['a', 'b'], (n) => cyclic.get(n) ?? []).sort(), ['a', 'b']);
});
