import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CelCompileError, compileCel } from './cel.ts';

const store = {
  name: 'store-17',
  labels: { region: 'west', format: 'mini', 'example.com/tier': 'gold' },
  properties: {
    lanes: 4,
    timezone: 'Europe/Berlin',
    lat: 52.52,
    pos: { vendor: 'acme', printers: ['a', 'b'] },
  },
};

describe('CEL placement expressions', () => {
  const cases: Array<[string, boolean]> = [
    ["labels.region == 'west'", true],
    ["labels.region == 'east'", false],
    ["labels['example.com/tier'] == 'gold'", true],
    ['properties.lanes >= 4', true],
    ['properties.lanes + 1 == 5', true],
    ['properties.lat > 50.0', true],
    ["properties.timezone.startsWith('Europe/')", true],
    ["properties.timezone.matches('^America/')", false],
    ["'format' in labels && !('gpu' in labels)", true],
    ['has(labels.gpu)', false],
    ["name.startsWith('store-') && name.endsWith('17')", true],
    ["properties.pos.vendor == 'acme' && size(properties.pos.printers) == 2", true],
    ["labels.exists(k, k.startsWith('example.com/'))", true],
    ["properties.pos.printers.all(p, p in ['a', 'b', 'c'])", true],
  ];
  for (const [expression, want] of cases) {
    test(`${expression} is ${want}`, () => {
      assert.deepEqual(compileCel(expression).evaluate(store), { value: want });
    });
  }

  test('one compiled expression serves many sites', () => {
    const cel = compileCel('properties.lanes > 2');
    assert.deepEqual(cel.evaluate({ ...store, properties: { lanes: 3 } }), { value: true });
    assert.deepEqual(cel.evaluate({ ...store, properties: { lanes: 1 } }), { value: false });
  });

  test('a syntax error is refused at compile time', () => {
    assert.throws(() => compileCel("labels.region == 'west' &&"), CelCompileError);
  });

  test('an unknown variable or function is refused at compile time', () => {
    assert.throws(() => compileCel("label.region == 'west'"), /unresolved attribute/);
    assert.throws(() => compileCel('frobnicate(name)'), /unbound function/);
  });

  test('an expression that is not a bool is refused at compile time', () => {
    assert.throws(() => compileCel('name'), /must give a bool/);
  });

  test('a site missing a label is an evaluation error, not a silent false', () => {
    const outcome = compileCel("labels.tier == 'gold'").evaluate(store);
    assert.ok('error' in outcome);
    assert.match(outcome.error, /tier/);
  });

  test('has() and `in` guard against missing labels', () => {
    assert.deepEqual(compileCel("has(labels.tier) && labels.tier == 'gold'").evaluate(store), {
      value: false,
    });
  });
});
