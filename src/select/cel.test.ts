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

// Each of these ran for seconds (or minutes) before there was a cost limit: compiling evaluates the
// expression once against an empty site, and placement evaluates it for every site.
describe('an expression that could run for seconds is refused', () => {
  const refusedQuickly = (expression: string, message: RegExp) => {
    const start = performance.now();
    assert.throws(
      () => compileCel(expression),
      (e: unknown) => e instanceof CelCompileError && message.test(e.message),
    );
    const ms = performance.now() - start;
    assert.ok(ms < 1000, `refusing took ${ms} ms`);
  };
  const hundred = `[${Array.from({ length: 100 }, (_, i) => i).join(', ')}]`;

  test('three nested comprehensions over a hundred elements (a million steps)', () => {
    refusedQuickly(
      `${hundred}.all(a, ${hundred}.all(b, ${hundred}.all(c, a + b + c >= 0)))`,
      /more than 100000 steps/,
    );
  });

  test('a chain of replace() that multiplies a string tenfold each time', () => {
    const chain = ".replace('a', 'aaaaaaaaaa')".repeat(8);
    refusedQuickly(`'aaaaaaaaaa'${chain}.size() > 0`, /more than 100000 steps/);
  });

  test('comprehensions nested four deep, and expressions too long or too deep to read', () => {
    refusedQuickly(
      '[1].all(a, [1].all(b, [1].all(c, [1].all(d, true))))',
      /4 comprehensions .* inside one another; at most 3/,
    );
    refusedQuickly(`true${' && true'.repeat(2000)}`, /characters; at most 4096/);
    refusedQuickly(`size(${'['.repeat(100)}${']'.repeat(100)}) == 1`, /nests 10\d deep; at most 64/);
  });

  test('work that grows with the site is allowed, and refused only for a site too large for it', () => {
    const cel = compileCel("properties.tags.exists(t, t == 'pos')");
    assert.deepEqual(cel.evaluate({ name: 's', labels: {}, properties: { tags: ['x', 'pos'] } }), {
      value: true,
    });
    const huge = { tags: Array.from({ length: 20_000 }, (_, i) => `tag-${i}`) };
    const start = performance.now();
    const outcome = cel.evaluate({ name: 's', labels: {}, properties: huge });
    assert.ok(performance.now() - start < 1000);
    assert.ok(
      'error' in outcome && /too large for the expression's cost limit/.test(outcome.error),
      JSON.stringify(outcome),
    );
  });

  test('everyday placement expressions stay well within the limit', () => {
    for (const expression of [
      "labels.region == 'west' && properties.lanes >= 4",
      "properties.tags.exists(t, t == 'pos')",
      "name.matches('^store-[0-9]+$')",
      "labels.exists(k, k.startsWith('example.com/'))",
      'properties.list.map(x, x * 2).filter(y, y > 3).size() > 2',
    ]) {
      assert.doesNotThrow(() => compileCel(expression), expression);
    }
  });
});
