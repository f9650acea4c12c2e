import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergePatch } from './merge-patch.ts';

describe('merge patch (RFC 7386)', () => {
  // the examples of RFC 7386 appendix A
  const cases: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) {
    test(`${JSON.stringify(target)} + ${JSON.stringify(patch)} = ${JSON.stringify(want)}`, () => {
      assert.deepEqual(mergePatch(target, patch), want);
    });
  }

  test('neither argument is changed', () => {
    const target = { a: { b: 1 } };
    const patch = { a: { c: 2 } };
    mergePatch(target, patch);
    assert.deepEqual([target, patch], [{ a: { b: 1 } }, { a: { c: 2 } }]);
  });

  test('__proto__ and constructor keys in a patch are dropped, polluting nothing', () => {
    const out = mergePatch(
      { a: 1 },
      JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"x": 1}, "b": 2}'),
    );
    assert.deepEqual(out, { a: 1, b: 2 });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
