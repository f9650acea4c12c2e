import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from '@bufbuild/cel';
import { costBound, inputSizeOf, largestInputWithin, shapeOf } from './cel-cost.ts';

const tree = (expression: string) => parse(expression).expr;

test('an expression that reads a fixed number of fields costs the same on any site', () => {
  const e = tree('has(properties.storeId) && size(labels) > 2');
  assert.equal(costBound(e, 10), costBound(e, 1_000_000));
  assert.equal(largestInputWithin(e, 100), Number.POSITIVE_INFINITY);
});

test('one comprehension over the input grows linearly, two nested quadratically', () => {
  const one = tree("properties.tags.exists(t, t == 'pos')");
  const two = tree('properties.tags.all(a, properties.tags.exists(b, a == b))');
  const growth = (e: ReturnType<typeof tree>) => costBound(e, 20_000) / costBound(e, 10_000);
  assert.ok(Math.abs(growth(one) - 2) < 0.1, `linear: ${growth(one)}`);
  assert.ok(Math.abs(growth(two) - 4) < 0.2, `quadratic: ${growth(two)}`);
});

test('string functions that multiply their input are priced by what they make', () => {
  const once = costBound(tree("'aaaa'.replace('a', 'aaaa').size() > 0"), 0);
  const twice = costBound(tree("'aaaa'.replace('a', 'aaaa').replace('a', 'aaaa').size() > 0"), 0);
  assert.ok(twice > 4 * once, `${once} then ${twice}`);
});

test('the largest affordable input is where the bound meets the budget', () => {
  const e = tree("properties.tags.exists(t, t == 'pos')");
  const largest = largestInputWithin(e, 100_000);
  assert.ok(costBound(e, largest) <= 100_000);
  assert.ok(costBound(e, largest + 1) > 100_000);
  assert.equal(
    largestInputWithin(tree("'aaaa'.replace('a', 'aaaa').replace('a', 'aaaa').size() > 0"), 10),
    -1,
  );
});

test('input size counts characters and one per other value, at any depth', () => {
  assert.equal(inputSizeOf({ ab: 'cde', n: [1, true, null] }), 1 + 2 + 3 + 1 + 1 + 3);
  const deep = JSON.parse(`${'['.repeat(10_000)}${']'.repeat(10_000)}`);
  assert.equal(inputSizeOf(deep), 10_000);
});

test('shape: depth, and comprehensions nested in one another', () => {
  assert.deepEqual(shapeOf(tree('1 + 2')), { depth: 2, nesting: 0 });
  assert.equal(shapeOf(tree('[1].all(a, [2].exists(b, a == b))')).nesting, 2);
  assert.equal(shapeOf(tree('[1].all(a, a > 0) && [2].exists(b, b > 0)')).nesting, 1);
});
