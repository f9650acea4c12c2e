import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateWhere, type FieldRef, type FieldValue, validateWhere, type Where } from './where.ts';

const site = {
  labels: { region: 'west', format: 'mini' } as Record<string, string>,
  properties: { lanes: 4, ev: true, city: 'Lyon', nothing: null, nested: { a: 1 } } as Record<
    string,
    unknown
  >,
  connectivity: 'Online',
};

function lookup(f: FieldRef): FieldValue {
  if (f.kind === 'label') return Object.hasOwn(site.labels, f.key) ? site.labels[f.key] : undefined;
  if (f.kind === 'property')
    return Object.hasOwn(site.properties, f.key) ? (site.properties[f.key] as FieldValue) : undefined;
  if (f.kind === 'connectivity') return site.connectivity;
  return undefined;
}

const holds = (w: Where) => evaluateWhere(w, lookup);

describe('where: evaluation', () => {
  test('equality compares value and type: 4 is not "4", true is not 1', () => {
    assert.equal(holds({ field: 'property:lanes', op: '=', value: 4 }), true);
    assert.equal(holds({ field: 'property:lanes', op: '=', value: '4' }), false);
    assert.equal(holds({ field: 'property:ev', op: '=', value: true }), true);
    assert.equal(holds({ field: 'property:ev', op: '=', value: 1 }), false);
    assert.equal(holds({ field: 'label:region', op: '=', value: 'west' }), true);
  });

  test('a missing field equals nothing, so != and notIn hold on it (like Kubernetes NotIn)', () => {
    assert.equal(holds({ field: 'label:tier', op: '=', value: 'gold' }), false);
    assert.equal(holds({ field: 'label:tier', op: '!=', value: 'gold' }), true);
    assert.equal(holds({ field: 'label:tier', op: 'notIn', values: ['gold'] }), true);
    assert.equal(holds({ field: 'label:tier', op: 'in', values: ['gold'] }), false);
  });

  test('order comparisons hold only between numbers', () => {
    assert.equal(holds({ field: 'property:lanes', op: '>', value: 3 }), true);
    assert.equal(holds({ field: 'property:lanes', op: '<=', value: 3 }), false);
    assert.equal(holds({ field: 'property:city', op: '>', value: 0 }), false);
    assert.equal(holds({ field: 'property:missing', op: '<', value: 10 }), false);
  });

  test('exists is true for any present key, JSON null included; objects equal nothing', () => {
    assert.equal(holds({ field: 'property:nothing', op: 'exists' }), true);
    assert.equal(holds({ field: 'property:missing', op: 'notExists' }), true);
    assert.equal(holds({ field: 'property:nested', op: '=', value: '[object Object]' }), false);
  });

  test('all, any and not combine', () => {
    const w: Where = {
      all: [
        { field: 'label:region', op: 'in', values: ['west', 'north'] },
        { not: { field: 'connectivity', op: '=', value: 'Offline' } },
        {
          any: [
            { field: 'property:lanes', op: '>=', value: 8 },
            { field: 'property:ev', op: '=', value: true },
          ],
        },
      ],
    };
    assert.equal(holds(w), true);
  });
});

describe('where: validation', () => {
  test('a valid expression has no problems', () => {
    assert.deepEqual(validateWhere({ all: [{ field: 'label:region', op: '=', value: 'west' }] }), []);
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['an unknown op', { field: 'label:a', op: '~', value: 'x' }, /unknown op/],
    ['an order comparison with a string', { field: 'property:a', op: '<', value: 'x' }, /compares numbers/],
    ['an unknown field kind', { field: 'fact:a', op: 'exists' }, /unknown field/],
    ['a key with quotes', { field: 'label:a"b', op: 'exists' }, /a key is/],
    ['an empty all', { all: [] }, /non-empty array/],
    ['extra keys', { field: 'label:a', op: 'exists', value: 1 }, /unexpected/],
    ['a non-finite number', { field: 'property:a', op: '=', value: Number.NaN }, /finite number/],
    ['not an object', 'region=west', /must be an object/],
  ];
  for (const [what, input, message] of cases) {
    test(`refuses ${what}, naming where`, () => {
      const problems = validateWhere(input);
      assert.ok(problems.length > 0);
      assert.match(problems[0]!.message, message);
      assert.match(problems[0]!.path, /^where/);
    });
  }

  test('refuses expressions nested too deep instead of recursing without end', () => {
    let w: unknown = { field: 'label:a', op: 'exists' };
    for (let i = 0; i < 50; i++) w = { not: w };
    assert.match(validateWhere(w)[0]!.message, /nested deeper/);
  });
});
