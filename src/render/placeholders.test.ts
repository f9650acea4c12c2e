import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FieldError, PlaceholderError, parseTemplate, type Scope, substitute } from './placeholders.ts';

const scope: Scope = {
  site: {
    name: 'store-17',
    labels: { region: 'west', 'example.com/tier': 'gold' },
    properties: { lanes: 4, open: true, geo: { lat: 52.5 }, printers: ['a', 'b'], nothing: null },
  },
  values: { replicas: 3, image: { tag: '1.4.2' } },
};

describe('typed substitution', () => {
  test('a scalar that is exactly one placeholder keeps the type of the value', () => {
    assert.deepEqual(
      substitute(
        {
          replicas: '${site.properties.lanes}',
          open: '${site.properties.open}',
          lat: '${site.properties.geo.lat}',
          printers: '${site.properties.printers}',
          nothing: '${site.properties.nothing}',
          fromValues: '${values.replicas}',
        },
        scope,
      ),
      { replicas: 4, open: true, lat: 52.5, printers: ['a', 'b'], nothing: null, fromValues: 3 },
    );
  });

  test('inside a longer string a value is stringified', () => {
    assert.equal(substitute('lanes=${site.properties.lanes} at ${site.name}', scope), 'lanes=4 at store-17');
    assert.equal(substitute('geo ${site.properties.geo}', scope), 'geo {"lat":52.5}');
  });

  test('label keys with dots and slashes are reached with brackets', () => {
    assert.equal(substitute('${site.labels["example.com/tier"]}', scope), 'gold');
    assert.equal(substitute("${ site.labels['example.com/tier'] }", scope), 'gold');
  });

  test('map keys are substituted too, always as strings', () => {
    assert.deepEqual(substitute({ '${site.name}.conf': 'x' }, scope), { 'store-17.conf': 'x' });
  });

  test('$${ writes a literal ${, and other ${…} is left alone', () => {
    assert.equal(substitute('$${site.name} is ${site.name}', scope), '${site.name} is store-17');
    assert.equal(substitute('echo ${HOME} $(date)', scope), 'echo ${HOME} $(date)');
  });

  test('a missing label or property names the site and the field', () => {
    assert.throws(
      () => substitute({ spec: { template: ['${site.labels.format}'] } }, scope),
      (e: unknown) =>
        e instanceof FieldError &&
        /site store-17 has no label "format"/.test(e.message) &&
        JSON.stringify(e.at) === '["spec","template",0]',
    );
    assert.throws(() => substitute('${site.properties.geo.lon}', scope), /has no property "geo.lon"/);
  });

  test('the input tree is not changed', () => {
    const input = { a: '${site.name}' };
    substitute(input, scope);
    assert.deepEqual(input, { a: '${site.name}' });
  });

  test('malformed placeholders are refused', () => {
    assert.throws(() => parseTemplate('${site.name'), /unterminated/);
    assert.throws(() => parseTemplate('${site.nmae}'), /unknown site field "nmae"/);
    assert.throws(() => parseTemplate('${site.labels}'), /name one label/);
    assert.throws(() => parseTemplate('${values}'), /name a value/);
  });

  test('a __proto__ key stays data', () => {
    const out = substitute(JSON.parse('{"__proto__": {"polluted": "${site.name}"}}'), scope) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(out), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('malformed quoted keys', () => {
  // a bad JSON escape inside ["…"] threw a SyntaxError, which escaped as a 500 on bundle apply
  test('an escape JSON does not know is a placeholder error naming the placeholder', () => {
    for (const text of ['${site.labels["\\x"]}', '${site.labels["\\u00"]}', '${values["a\tb"]}']) {
      assert.throws(
        () => parseTemplate(text),
        (e: unknown) =>
          e instanceof PlaceholderError && e.message.startsWith(text) && /JSON escapes/.test(e.message),
        text,
      );
    }
  });

  test('in a manifest it is a field error at that field', () => {
    assert.throws(
      () => substitute({ data: { k: 'x ${site.labels["\\q"]}' } }, scope),
      (e: unknown) => e instanceof FieldError && e.at.join('.') === 'data.k',
    );
  });
});
