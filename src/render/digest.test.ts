import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, digestOf, sha256Digest } from './digest.ts';

/** The same object with its keys inserted in reverse order, at every depth. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(value).reverse()) {
      // defineProperty keeps a `__proto__` key an own property instead of setting the prototype
      Object.defineProperty(out, key, {
        value: reverseKeys((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

// Keys that are not array indices, so JavaScript keeps them in insertion order and sorting is visible.
const wordKey = fc.stringMatching(/^[a-z_][a-z0-9_]{0,7}$/);
const jsonTree = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false),
    fc.integer(),
    fc.string(),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(wordKey, tie('node'), { maxKeys: 5 }),
  ),
})).node;

describe('canonicalJson', () => {
  test('keys come out sorted however they were inserted', () => {
    assert.equal(canonicalJson({ zeta: 1, alpha: 2, mid: 3 }), '{"alpha":2,"mid":3,"zeta":1}');
  });

  test('keys of nested objects, including objects inside arrays, are sorted too', () => {
    const value = { b: { y: 1, x: { d: 1, c: 2 } }, a: [{ q: 1, p: 2 }] };
    assert.equal(canonicalJson(value), '{"a":[{"p":2,"q":1}],"b":{"x":{"c":2,"d":1},"y":1}}');
  });

  test('array order is kept, because it is meaningful in manifests', () => {
    assert.equal(canonicalJson(['c', 'a', 'b']), '["c","a","b"]');
    assert.notEqual(canonicalJson({ args: ['a', 'b'] }), canonicalJson({ args: ['b', 'a'] }));
  });

  test('a key whose value is undefined is dropped, so it equals the object without it', () => {
    assert.equal(canonicalJson({ a: 1, b: undefined, c: { d: undefined } }), '{"a":1,"c":{}}');
    assert.equal(canonicalJson({ a: 1, b: undefined }), canonicalJson({ a: 1 }));
  });

  test('null values are kept, unlike undefined ones', () => {
    assert.equal(canonicalJson({ a: null }), '{"a":null}');
  });

  test('scalars serialize as plain JSON', () => {
    assert.equal(canonicalJson('x'), '"x"');
    assert.equal(canonicalJson(42), '42');
    assert.equal(canonicalJson(null), 'null');
  });

  test('a "__proto__" key, legal in a ConfigMap, is kept in the output', () => {
    const value = JSON.parse('{"data":{"__proto__":"hello","b":"2"}}');
    assert.equal(canonicalJson(value), '{"data":{"__proto__":"hello","b":"2"}}');
  });

  test('property: insertion order of keys never changes the output', () => {
    fc.assert(
      fc.property(jsonTree, (value) => {
        assert.equal(canonicalJson(reverseKeys(value)), canonicalJson(value));
      }),
    );
  });

  test('property: the output parses back to a value equal to the input', () => {
    fc.assert(
      fc.property(jsonTree, (value) => {
        assert.deepEqual(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('digests', () => {
  test('a digest is "sha256:" followed by 64 lower-case hex digits', () => {
    assert.match(digestOf({ a: 1 }), /^sha256:[0-9a-f]{64}$/);
    assert.match(sha256Digest(''), /^sha256:[0-9a-f]{64}$/);
  });

  test('sha256Digest is the sha256 of the text', () => {
    const expected = createHash('sha256').update('hello').digest('hex');
    assert.equal(sha256Digest('hello'), `sha256:${expected}`);
  });

  test('digestOf hashes the canonical JSON', () => {
    const value = { b: [1, 2], a: 'x' };
    assert.equal(digestOf(value), sha256Digest(canonicalJson(value)));
  });

  test('documents that differ only in a "__proto__" key have different digests', () => {
    const a = JSON.parse('{"data":{"__proto__":"one"}}');
    const b = JSON.parse('{"data":{"__proto__":"two"}}');
    assert.notEqual(digestOf(a), digestOf(b));
  });

  test('property: key order never changes the digest', () => {
    fc.assert(
      fc.property(jsonTree, (value) => {
        assert.equal(digestOf(reverseKeys(value)), digestOf(value));
      }),
    );
  });

  test('property: different values give different digests', () => {
    fc.assert(
      fc.property(jsonTree, jsonTree, (a, b) => {
        fc.pre(canonicalJson(a) !== canonicalJson(b));
        assert.notEqual(digestOf(a), digestOf(b));
      }),
    );
  });

  test('property: changing one leaf changes the digest', () => {
    fc.assert(
      fc.property(fc.dictionary(wordKey, fc.integer(), { minKeys: 1 }), fc.nat(), (dict, pick) => {
        const keys = Object.keys(dict);
        const key = keys[pick % keys.length]!;
        const changed = { ...dict, [key]: dict[key]! + 1 };
        assert.notEqual(digestOf(changed), digestOf(dict));
      }),
    );
  });
});
