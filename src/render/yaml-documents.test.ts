import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutpostError } from '../model/errors.ts';
import { maxFlowDepth, readYamlDocuments } from './yaml-documents.ts';

const read = (content: string) => readYamlDocuments({ path: 'f.yaml', content });

function refused(content: string, message: RegExp): OutpostError {
  try {
    read(content);
  } catch (e) {
    assert.ok(e instanceof OutpostError, String(e));
    assert.equal(e.code, 'manifest_invalid');
    assert.equal(e.location.file, 'f.yaml');
    assert.match(e.message, message);
    return e;
  }
  assert.fail('expected a refusal');
}

function timed<T>(f: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = f();
  return { value, ms: performance.now() - start };
}

describe('reading YAML takes time in proportion to the text', () => {
  test('flow collections nested past the bound are refused at once, with the line', () => {
    const { ms, value } = timed(() =>
      refused(`a: 1\nb: ${'['.repeat(100_000)}${']'.repeat(100_000)}`, /nested deeper than 256/),
    );
    assert.equal(value.location.line, 2);
    assert.ok(ms < 2000, `took ${ms} ms`);
    const deepest = `a: ${'['.repeat(maxFlowDepth)}${']'.repeat(maxFlowDepth)}`;
    assert.equal(read(deepest).length, 1);
    assert.equal(read(`a: "${'['.repeat(2 * maxFlowDepth)}"`).length, 1, 'brackets in a string nest nothing');
  });

  test('a mapping of 40,000 keys is read in seconds, not minutes (no pairwise key comparison)', () => {
    const mapping = Array.from({ length: 40_000 }, (_, i) => `key-${i}: v`).join('\n');
    // the library's pairwise check took minutes on this machine under load; linear reading takes ~1 s
    const { ms } = timed(() => assert.equal(read(mapping).length, 1));
    assert.ok(ms < 10_000, `took ${ms} ms`);
  });
});

describe('duplicate keys', () => {
  test('keys that JSON would merge are duplicates, a number and its string alike', () => {
    refused('1: a\n"1": b\n', /key "1" appears twice/);
  });

  test('the second key is named with the line of the first', () => {
    const err = refused(
      'a: 1\nb: 2\nc: 3\nb: 4\n',
      /key "b" appears twice in one mapping \(first on line 2\)/,
    );
    assert.equal(err.location.line, 4);
  });

  test('nested mappings and mappings in sequences are checked too', () => {
    refused('a:\n  - {x: 1, y: 2, x: 3}\n', /key "x" appears twice/);
  });

  test('YAML 1.1 merge keys may repeat', () => {
    const [doc] = read('base: &b {p: 1}\nmore: &m {q: 2}\nc: {<<: *b, <<: *m, r: 3}\n');
    assert.deepEqual((doc!.value as Record<string, unknown>).c, { p: 1, q: 2, r: 3 });
  });
});

describe('keys JSON cannot hold', () => {
  // the YAML library stringified these with a process warning per document, which reached the hub log
  test('a list or a mapping as a key is refused at its line', () => {
    const err = refused('a: 1\n? [x, y]\n: 2\n', /a mapping key is a list or a mapping/);
    assert.equal(err.location.line, 2);
    refused('{ {a: 1}: b }', /a mapping key is a list or a mapping/);
    refused('x: &k [1]\ny: {*k : 2}\n', /a mapping key is a list or a mapping/);
  });
});

describe('YAML 1.1 types JSON has no form for', () => {
  // found by fuzzing: `!!omap` pairs also carried list keys past the key check, with a process warning
  test('dates, times of day, ordered maps, sets and binary are read as the text written', () => {
    const [doc] = read(
      'date: 2001-12-14\ntime: 12:30\nomap: !!omap [ {k: 1} ]\nset: !!set {x}\nbinary: !!binary aGVsbG8=\n',
    );
    assert.deepEqual(doc!.value, {
      date: '2001-12-14',
      time: '12:30',
      omap: [{ k: 1 }],
      set: { x: null },
      binary: 'aGVsbG8=',
    });
  });

  test('a list as a key inside an ordered map or a list of pairs is refused', () => {
    refused('a: !!omap [ {[x]: 1} ]\n', /a mapping key is a list or a mapping/);
    refused('a: !!pairs [ {[x]: 1} ]\n', /a mapping key is a list or a mapping/);
  });
});

describe('numbers JSON cannot hold', () => {
  // found probing the YAML types after the fuzzer found !!omap: `replicas: .inf` reached the manifest
  // as `replicas: null`, where kubectl refuses it
  test('.inf, .nan and a number past the float range are refused at their line', () => {
    assert.equal(refused('a: 1\nreplicas: .inf\n', /\.inf is a number JSON cannot hold/).location.line, 2);
    refused('x: [1, -.Inf]\n', /-\.Inf is a number JSON cannot hold/);
    refused('x: {y: .NaN}\n', /\.NaN is a number JSON cannot hold/);
    refused('x: 1e400\n', /1e400 is a number JSON cannot hold/);
  });

  test('the same written as text is text', () => {
    assert.deepEqual(read('x: ".inf"\n')[0]!.value, { x: '.inf' });
  });
});
