import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { LabelSelector, LabelSelectorRequirement, Labels, SelectorOperator } from './labels.ts';
import {
  explainSelector,
  formatSelector,
  matchesSelector,
  validateLabels,
  validateSelector,
} from './labels.ts';

const site: Labels = { region: 'east', tier: 'gold', gpu: 'true' };

function expr(key: string, operator: SelectorOperator, values?: string[]): LabelSelectorRequirement {
  return values === undefined ? { key, operator } : { key, operator, values };
}

function paths(sel: LabelSelector): string[] {
  return validateSelector(sel).map((p) => p.path);
}

describe('matching each operator', () => {
  const cases: { name: string; req: LabelSelectorRequirement; labels: Labels; want: boolean }[] = [
    {
      name: 'In matches when the value is listed',
      req: expr('region', 'In', ['east', 'west']),
      labels: site,
      want: true,
    },
    {
      name: 'In rejects an unlisted value',
      req: expr('region', 'In', ['west', 'north']),
      labels: site,
      want: false,
    },
    {
      name: 'In rejects a site that lacks the key',
      req: expr('zone', 'In', ['a']),
      labels: site,
      want: false,
    },
    {
      name: 'In can select the empty value',
      req: expr('note', 'In', ['']),
      labels: { note: '' },
      want: true,
    },
    {
      name: 'In with the empty value still needs the key',
      req: expr('note', 'In', ['']),
      labels: {},
      want: false,
    },
    {
      name: 'NotIn rejects a listed value',
      req: expr('region', 'NotIn', ['east']),
      labels: site,
      want: false,
    },
    {
      name: 'NotIn matches an unlisted value',
      req: expr('region', 'NotIn', ['west']),
      labels: site,
      want: true,
    },
    {
      name: 'NotIn matches a site that lacks the key',
      req: expr('zone', 'NotIn', ['a']),
      labels: site,
      want: true,
    },
    { name: 'Exists matches a present key', req: expr('gpu', 'Exists'), labels: site, want: true },
    {
      name: 'Exists matches a present key with an empty value',
      req: expr('gpu', 'Exists'),
      labels: { gpu: '' },
      want: true,
    },
    { name: 'Exists rejects a missing key', req: expr('zone', 'Exists'), labels: site, want: false },
    {
      name: 'DoesNotExist matches a missing key',
      req: expr('zone', 'DoesNotExist'),
      labels: site,
      want: true,
    },
    {
      name: 'DoesNotExist rejects a present key',
      req: expr('gpu', 'DoesNotExist'),
      labels: site,
      want: false,
    },
    { name: 'keys compare case-sensitively', req: expr('Region', 'Exists'), labels: site, want: false },
    {
      name: 'values compare case-sensitively',
      req: expr('region', 'In', ['East']),
      labels: site,
      want: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(matchesSelector({ matchExpressions: [c.req] }, c.labels), c.want);
    });
  }

  test('inherited object properties do not count as labels', () => {
    assert.equal(matchesSelector({ matchExpressions: [expr('constructor', 'Exists')] }, {}), false);
    assert.equal(matchesSelector({ matchExpressions: [expr('toString', 'DoesNotExist')] }, {}), true);
    assert.equal(matchesSelector({ matchExpressions: [expr('constructor', 'NotIn', ['x'])] }, {}), true);
  });

  test('label sets without a prototype are matched like plain objects', () => {
    const bare: Record<string, string> = Object.create(null);
    bare.region = 'east';
    assert.equal(matchesSelector({ matchLabels: { region: 'east' } }, bare), true);
    assert.equal(matchesSelector({ matchExpressions: [expr('zone', 'DoesNotExist')] }, bare), true);
  });
});

describe('combining requirements', () => {
  test('an empty selector matches every label set', () => {
    for (const sel of [
      {},
      { matchLabels: {} },
      { matchExpressions: [] },
      { matchLabels: {}, matchExpressions: [] },
    ]) {
      assert.equal(matchesSelector(sel, site), true);
      assert.equal(matchesSelector(sel, {}), true);
    }
  });

  test('matchLabels requires every key to equal its value', () => {
    assert.equal(matchesSelector({ matchLabels: { region: 'east', tier: 'gold' } }, site), true);
    assert.equal(matchesSelector({ matchLabels: { region: 'east', tier: 'silver' } }, site), false);
    assert.equal(matchesSelector({ matchLabels: { region: 'east', zone: 'a' } }, site), false);
  });

  test('matchLabels and matchExpressions are ANDed', () => {
    const sel: LabelSelector = {
      matchLabels: { tier: 'gold' },
      matchExpressions: [expr('region', 'In', ['east', 'west']), expr('legacy', 'DoesNotExist')],
    };
    assert.equal(matchesSelector(sel, site), true);
    assert.equal(matchesSelector(sel, { ...site, tier: 'silver' }), false);
    assert.equal(matchesSelector(sel, { ...site, region: 'north' }), false);
    assert.equal(matchesSelector(sel, { ...site, legacy: 'yes' }), false);
  });

  test('contradictory requirements on one key match nothing', () => {
    const sel: LabelSelector = { matchExpressions: [expr('gpu', 'Exists'), expr('gpu', 'DoesNotExist')] };
    assert.equal(matchesSelector(sel, site), false);
    assert.equal(matchesSelector(sel, {}), false);
  });
});

describe('selectors the apiserver would reject', () => {
  test('In with no values matches nothing', () => {
    assert.equal(matchesSelector({ matchExpressions: [expr('region', 'In', [])] }, site), false);
    assert.equal(matchesSelector({ matchExpressions: [expr('region', 'In')] }, site), false);
  });

  test('NotIn with no values matches everything', () => {
    assert.equal(matchesSelector({ matchExpressions: [expr('region', 'NotIn', [])] }, site), true);
    assert.equal(matchesSelector({ matchExpressions: [expr('region', 'NotIn')] }, {}), true);
  });

  test('Exists and DoesNotExist ignore stray values', () => {
    assert.equal(matchesSelector({ matchExpressions: [expr('gpu', 'Exists', ['false'])] }, site), true);
    assert.equal(matchesSelector({ matchExpressions: [expr('zone', 'DoesNotExist', ['a'])] }, site), true);
  });

  test('an unknown operator matches nothing', () => {
    const sel = {
      matchExpressions: [{ key: 'region', operator: 'Equals', values: ['east'] }],
    } as unknown as LabelSelector;
    assert.equal(matchesSelector(sel, site), false);
    assert.equal(explainSelector(sel, site).matched, false);
  });
});

describe('validateSelector', () => {
  test('a well-formed selector has no problems', () => {
    const sel: LabelSelector = {
      matchLabels: { 'example.com/tier': 'gold', note: '' },
      matchExpressions: [
        expr('region', 'In', ['east', 'west']),
        expr('region', 'NotIn', ['north']),
        expr('gpu', 'Exists'),
        expr('legacy', 'DoesNotExist', []),
      ],
    };
    assert.deepEqual(validateSelector(sel), []);
    assert.deepEqual(validateSelector({}), []);
  });

  test('In and NotIn need at least one value', () => {
    const problems = validateSelector({
      matchExpressions: [expr('gpu', 'Exists'), expr('region', 'In', []), expr('zone', 'NotIn')],
    });
    assert.deepEqual(problems, [
      { path: 'matchExpressions[1].values', message: 'operator In needs at least one value' },
      { path: 'matchExpressions[2].values', message: 'operator NotIn needs at least one value' },
    ]);
  });

  test('Exists and DoesNotExist may not carry values', () => {
    const problems = validateSelector({
      matchExpressions: [expr('gpu', 'Exists', ['true']), expr('legacy', 'DoesNotExist', ['x'])],
    });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['matchExpressions[0].values', 'matchExpressions[1].values'],
    );
    assert.match(problems[0]!.message, /Exists takes no values/);
    assert.match(problems[1]!.message, /DoesNotExist takes no values/);
  });

  test('an unknown operator is reported with the allowed ones', () => {
    const sel = {
      matchExpressions: [{ key: 'region', operator: 'in', values: ['east'] }],
    } as unknown as LabelSelector;
    const problems = validateSelector(sel);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.path, 'matchExpressions[0].operator');
    assert.match(problems[0]!.message, /unknown operator "in".*In, NotIn, Exists, DoesNotExist/);
  });

  test('expression keys and values are checked at their own paths', () => {
    assert.deepEqual(paths({ matchExpressions: [expr('-bad', 'Exists')] }), ['matchExpressions[0].key']);
    assert.deepEqual(paths({ matchExpressions: [expr('ok', 'In', ['fine', 'not fine', 'x'.repeat(64)])] }), [
      'matchExpressions[0].values[1]',
      'matchExpressions[0].values[2]',
    ]);
  });

  test('matchLabels keys and values are checked under matchLabels', () => {
    assert.deepEqual(paths({ matchLabels: { 'Bad.Prefix/x': 'ok', good: 'bad value' } }), [
      'matchLabels["Bad.Prefix/x"]',
      'matchLabels["good"]',
    ]);
  });

  test('every problem in a selector is reported, not just the first', () => {
    const problems = validateSelector({
      matchLabels: { '': 'v' },
      matchExpressions: [expr('a/b/c', 'In', []), expr('ok', 'Exists', ['-x'])],
    });
    assert.deepEqual(
      problems.map((p) => p.path),
      [
        'matchLabels[""]',
        'matchExpressions[0].values',
        'matchExpressions[0].key',
        'matchExpressions[1].values',
        'matchExpressions[1].values[0]',
      ],
    );
  });
});

// A selector written in YAML can be any shape; each of these crashed validation with a TypeError (a 500
// on bundle apply) or, for a misspelt field, was read as {} and selected every site.
describe('validateSelector on selectors as written', () => {
  const cases: Array<[string, unknown, string]> = [
    ['matchExpressions not a list', { matchExpressions: 'region=west' }, 'matchExpressions'],
    ['a requirement not a mapping', { matchExpressions: [1] }, 'matchExpressions[0]'],
    [
      'a requirement key not a string',
      { matchExpressions: [{ key: 5, operator: 'Exists' }] },
      'matchExpressions[0].key',
    ],
    [
      'values not a list',
      { matchExpressions: [{ key: 'a', operator: 'In', values: 'x' }] },
      'matchExpressions[0].values',
    ],
    [
      'values holding numbers',
      { matchExpressions: [{ key: 'a', operator: 'In', values: [1] }] },
      'matchExpressions[0].values',
    ],
    [
      'an operator not a string',
      { matchExpressions: [{ key: 'a', operator: null }] },
      'matchExpressions[0].operator',
    ],
    ['matchLabels not a mapping', { matchLabels: 'region=west' }, 'matchLabels'],
    ['a label value not a string', { matchLabels: { version: 1.5 } }, 'matchLabels["version"]'],
    ['a null label value', { matchLabels: { region: null } }, 'matchLabels["region"]'],
    ['a misspelt field', { matchLabel: { region: 'west' } }, 'matchLabel'],
    [
      'an unknown requirement field',
      { matchExpressions: [{ key: 'a', operator: 'Exists', value: 'x' }] },
      'matchExpressions[0].value',
    ],
    ['not a mapping at all', ['region'], ''],
  ];
  for (const [what, sel, path] of cases) {
    test(`${what} is a problem at ${path || 'the selector'}`, () => {
      const problems = validateSelector(sel);
      assert.ok(problems.length > 0);
      assert.equal(problems[0]!.path, path);
    });
  }
});

describe('label key and value syntax', () => {
  const keyCases: { name: string; key: string; valid: boolean }[] = [
    { name: 'a plain name', key: 'region', valid: true },
    { name: 'a single character', key: 'a', valid: true },
    { name: 'inner dashes, dots and underscores', key: 'a-b_c.d', valid: true },
    { name: 'upper case in the name', key: 'MyName', valid: true },
    { name: 'a name of 63 characters', key: 'a'.repeat(63), valid: true },
    { name: 'a name of 64 characters', key: 'a'.repeat(64), valid: false },
    { name: 'a leading dash', key: '-region', valid: false },
    { name: 'a trailing dash', key: 'region-', valid: false },
    { name: 'a leading underscore', key: '_region', valid: false },
    { name: 'a trailing underscore', key: 'region_', valid: false },
    { name: 'a leading dot', key: '.region', valid: false },
    { name: 'a space', key: 'my region', valid: false },
    { name: 'non-ASCII letters', key: 'régión', valid: false },
    { name: 'the empty key', key: '', valid: false },
    { name: 'a DNS prefix', key: 'example.com/region', valid: true },
    { name: 'a prefix of one label', key: 'outpost/region', valid: true },
    { name: 'a 63-character name after a prefix', key: `example.com/${'a'.repeat(63)}`, valid: true },
    { name: 'a 64-character name after a prefix', key: `example.com/${'a'.repeat(64)}`, valid: false },
    {
      name: 'a 253-character prefix',
      key: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}/x`,
      valid: true,
    },
    {
      name: 'a 254-character prefix',
      key: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}/x`,
      valid: false,
    },
    { name: 'an upper-case prefix', key: 'Example.com/region', valid: false },
    { name: 'an underscore in the prefix', key: 'my_corp.com/region', valid: false },
    { name: 'a prefix ending in a dot', key: 'example.com./region', valid: false },
    { name: 'a prefix with an empty label', key: 'example..com/region', valid: false },
    { name: 'a prefix starting with a dash', key: '-example.com/region', valid: false },
    { name: 'an empty prefix', key: '/region', valid: false },
    { name: 'an empty name after the prefix', key: 'example.com/', valid: false },
    { name: 'two slashes', key: 'a/b/c', valid: false },
    { name: 'a newline after the name', key: 'region\n', valid: false },
  ];
  for (const c of keyCases) {
    test(`a key with ${c.name} is ${c.valid ? 'accepted' : 'rejected'}`, () => {
      const problems = validateLabels({ [c.key]: 'v' });
      assert.equal(problems.length === 0, c.valid, JSON.stringify(problems));
      for (const p of problems) assert.equal(p.path, `labels[${JSON.stringify(c.key)}]`);
    });
  }

  const valueCases: { name: string; value: string; valid: boolean }[] = [
    { name: 'the empty value', value: '', valid: true },
    { name: 'a single character', value: 'x', valid: true },
    { name: '63 characters', value: 'v'.repeat(63), valid: true },
    { name: '64 characters', value: 'v'.repeat(64), valid: false },
    { name: 'inner dashes, dots and underscores', value: '1.2_3-4', valid: true },
    { name: 'a leading dash', value: '-east', valid: false },
    { name: 'a trailing dot', value: 'east.', valid: false },
    { name: 'a trailing underscore', value: 'east_', valid: false },
    { name: 'a slash', value: 'a/b', valid: false },
    { name: 'a comma', value: 'a,b', valid: false },
    { name: 'a space', value: 'a b', valid: false },
  ];
  for (const c of valueCases) {
    test(`a value with ${c.name} is ${c.valid ? 'accepted' : 'rejected'}`, () => {
      assert.equal(validateLabels({ k: c.value }).length === 0, c.valid);
      assert.equal(
        validateSelector({ matchExpressions: [expr('k', 'In', [c.value])] }).length === 0,
        c.valid,
      );
    });
  }

  test('validateLabels prefixes problems with the given path', () => {
    assert.deepEqual(
      validateLabels({ ok: 'fine', 'bad key': 'x' }, 'sites[3].labels').map((p) => p.path),
      ['sites[3].labels["bad key"]'],
    );
  });

  test('problem messages name the offending text and the limit', () => {
    const [tooLong] = validateLabels({ k: 'v'.repeat(64) });
    assert.match(tooLong!.message, /64 characters; at most 63/);
    const [leadingDash] = validateLabels({ '-k': 'v' });
    assert.match(leadingDash!.message, /"-k".*starting and ending with an alphanumeric/);
  });
});

describe('explainSelector and formatSelector', () => {
  const sel: LabelSelector = {
    matchLabels: { tier: 'gold', env: 'prod' },
    matchExpressions: [
      expr('region', 'In', ['west', 'east']),
      expr('zone', 'NotIn', ['b', 'a']),
      expr('gpu', 'Exists'),
      expr('legacy', 'DoesNotExist'),
    ],
  };

  test('explain lists matchLabels by key, then expressions in order, each with its outcome', () => {
    assert.deepEqual(explainSelector(sel, site), {
      matched: false,
      requirements: [
        { requirement: 'env=prod', matched: false },
        { requirement: 'tier=gold', matched: true },
        { requirement: 'region in (east,west)', matched: true },
        { requirement: 'zone notin (a,b)', matched: true },
        { requirement: 'gpu', matched: true },
        { requirement: '!legacy', matched: true },
      ],
    });
  });

  test('explain reports a match when every requirement holds', () => {
    const result = explainSelector(sel, { ...site, env: 'prod' });
    assert.equal(result.matched, true);
    assert.ok(result.requirements.every((r) => r.matched));
  });

  test('explain of an empty selector matches with no requirements', () => {
    assert.deepEqual(explainSelector({}, site), { matched: true, requirements: [] });
  });

  test('format orders requirements by key like kubectl and sorts values', () => {
    assert.equal(
      formatSelector(sel),
      'env=prod,gpu,!legacy,region in (east,west),tier=gold,zone notin (a,b)',
    );
  });

  test('format does not depend on the order expressions were listed', () => {
    const reversed = { ...sel, matchExpressions: [...(sel.matchExpressions ?? [])].reverse() };
    assert.equal(formatSelector(reversed), formatSelector(sel));
  });

  test('format keeps every requirement on a repeated key', () => {
    assert.equal(
      formatSelector({
        matchLabels: { region: 'east' },
        matchExpressions: [expr('region', 'NotIn', ['west'])],
      }),
      'region=east,region notin (west)',
    );
  });

  test('format of an empty selector is the empty string', () => {
    assert.equal(formatSelector({}), '');
    assert.equal(formatSelector({ matchLabels: {}, matchExpressions: [] }), '');
  });

  test('format renders an empty value and a one-value In', () => {
    assert.equal(
      formatSelector({ matchLabels: { note: '' }, matchExpressions: [expr('region', 'In', ['', 'east'])] }),
      'note=,region in (,east)',
    );
    assert.equal(formatSelector({ matchExpressions: [expr('region', 'In', ['east'])] }), 'region in (east)');
  });
});

// ---- properties -------------------------------------------------------------------------------------------

// Tiny alphabets so keys and values collide often; `constructor` catches prototype lookups.
const keyArb = fc.constantFrom('a', 'b', 'app', 'example.com/a', 'constructor');
const valueArb = fc.constantFrom('', '1', '2', 'x');
const labelsArb: fc.Arbitrary<Record<string, string>> = fc.dictionary(keyArb, valueArb, { maxKeys: 5 });
const operatorArb = fc.constantFrom<SelectorOperator>('In', 'NotIn', 'Exists', 'DoesNotExist');
// Values lists of any length for any operator, so the selectors the apiserver rejects are exercised too.
const requirementArb: fc.Arbitrary<LabelSelectorRequirement> = fc
  .record({
    key: keyArb,
    operator: operatorArb,
    values: fc.option(fc.array(valueArb, { maxLength: 3 }), { nil: undefined }),
  })
  .map(({ key, operator, values }) => expr(key, operator, values));
const selectorArb: fc.Arbitrary<LabelSelector> = fc.record(
  {
    matchLabels: fc.dictionary(keyArb, valueArb, { maxKeys: 3 }),
    matchExpressions: fc.array(requirementArb, { maxLength: 4 }),
  },
  { requiredKeys: [] },
);

/** The Kubernetes rules read literally: flatten to requirements, then check each one against the label list. */
function referenceMatches(sel: LabelSelector, labels: Labels): boolean {
  const requirements: { key: string; op: string; values: string[] }[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    requirements.push({ key, op: 'In', values: [value] });
  }
  for (const e of sel.matchExpressions ?? []) {
    requirements.push({ key: e.key, op: e.operator, values: e.values ?? [] });
  }
  const present = Object.keys(labels);
  for (const r of requirements) {
    const hasKey = present.includes(r.key);
    const value = hasKey ? labels[r.key] : undefined;
    let ok = false;
    if (r.op === 'In') ok = hasKey && r.values.some((v) => v === value);
    if (r.op === 'NotIn') ok = !hasKey || !r.values.some((v) => v === value);
    if (r.op === 'Exists') ok = hasKey;
    if (r.op === 'DoesNotExist') ok = !hasKey;
    if (!ok) return false;
  }
  return true;
}

describe('properties', () => {
  test('matchesSelector agrees with a literal reference model', () => {
    fc.assert(
      fc.property(selectorArb, labelsArb, (sel, labels) => {
        assert.equal(matchesSelector(sel, labels), referenceMatches(sel, labels));
      }),
      { numRuns: 2000 },
    );
  });

  test("a selector made of a site's own labels always matches that site", () => {
    fc.assert(
      fc.property(labelsArb, (labels) => {
        assert.equal(matchesSelector({ matchLabels: { ...labels } }, labels), true);
      }),
    );
  });

  test("a selector made of a site's own labels matches only sites that carry all of them", () => {
    fc.assert(
      fc.property(labelsArb, labelsArb, (own, other) => {
        const carriesAll = Object.entries(own).every(([k, v]) => Object.hasOwn(other, k) && other[k] === v);
        assert.equal(matchesSelector({ matchLabels: { ...own } }, other), carriesAll);
      }),
    );
  });

  test('adding a requirement never turns a non-match into a match', () => {
    fc.assert(
      fc.property(
        selectorArb,
        requirementArb,
        keyArb,
        valueArb,
        labelsArb,
        (sel, extra, key, value, labels) => {
          fc.pre(!matchesSelector(sel, labels));
          const withExpression = { ...sel, matchExpressions: [...(sel.matchExpressions ?? []), extra] };
          assert.equal(matchesSelector(withExpression, labels), false);
          // Only a new key adds a requirement; reusing one would replace its value instead.
          if (!Object.hasOwn(sel.matchLabels ?? {}, key)) {
            const withLabel = { ...sel, matchLabels: { ...sel.matchLabels, [key]: value } };
            assert.equal(matchesSelector(withLabel, labels), false);
          }
        },
      ),
    );
  });

  test('explainSelector reaches the same verdict as matchesSelector, one entry per requirement', () => {
    fc.assert(
      fc.property(selectorArb, labelsArb, (sel, labels) => {
        const explained = explainSelector(sel, labels);
        assert.equal(explained.matched, matchesSelector(sel, labels));
        const count = Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions ?? []).length;
        assert.equal(explained.requirements.length, count);
        assert.equal(
          explained.matched,
          explained.requirements.every((r) => r.matched),
        );
      }),
    );
  });

  test('formatSelector prints one comma-separated part per requirement', () => {
    fc.assert(
      fc.property(selectorArb, (sel) => {
        const formatted = formatSelector(sel);
        const parts = formatted === '' ? [] : formatted.split(/,(?![^(]*\))/);
        assert.deepEqual(
          [...parts].sort(),
          explainSelector(sel, {})
            .requirements.map((r) => r.requirement)
            .sort(),
        );
      }),
    );
  });

  test('selectors built from valid keys, values and operators pass validation', () => {
    const validRequirement = fc.oneof(
      fc.record({
        key: keyArb,
        operator: fc.constantFrom<SelectorOperator>('In', 'NotIn'),
        values: fc.array(valueArb, { minLength: 1 }),
      }),
      fc.record({ key: keyArb, operator: fc.constantFrom<SelectorOperator>('Exists', 'DoesNotExist') }),
    );
    fc.assert(
      fc.property(
        labelsArb,
        fc.array(validRequirement, { maxLength: 4 }),
        (matchLabels, matchExpressions) => {
          assert.deepEqual(validateSelector({ matchLabels, matchExpressions }), []);
        },
      ),
    );
  });
});

// The examples of https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/, written as
// LabelSelectors (`!=` is NotIn with one value), against label sets chosen to hit each edge the page names.
describe('the examples of the Kubernetes labels documentation', () => {
  const cases: Array<{ selector: string; sel: LabelSelector; labels: Labels; want: boolean }> = [
    {
      selector: 'environment = production',
      sel: { matchLabels: { environment: 'production' } },
      labels: { environment: 'production' },
      want: true,
    },
    {
      selector: 'environment = production',
      sel: { matchLabels: { environment: 'production' } },
      labels: { environment: 'qa' },
      want: false,
    },
    {
      selector: 'environment = production',
      sel: { matchLabels: { environment: 'production' } },
      labels: {},
      want: false,
    },
    {
      selector: 'tier != frontend',
      sel: { matchExpressions: [expr('tier', 'NotIn', ['frontend'])] },
      labels: { tier: 'backend' },
      want: true,
    },
    {
      selector: 'tier != frontend',
      sel: { matchExpressions: [expr('tier', 'NotIn', ['frontend'])] },
      labels: { tier: 'frontend' },
      want: false,
    },
    // "also selects resources that do not have a label with the tier key"
    {
      selector: 'tier != frontend',
      sel: { matchExpressions: [expr('tier', 'NotIn', ['frontend'])] },
      labels: {},
      want: true,
    },
    {
      selector: 'environment=production,tier!=frontend',
      sel: {
        matchLabels: { environment: 'production' },
        matchExpressions: [expr('tier', 'NotIn', ['frontend'])],
      },
      labels: { environment: 'production', tier: 'backend' },
      want: true,
    },
    {
      selector: 'environment=production,tier!=frontend',
      sel: {
        matchLabels: { environment: 'production' },
        matchExpressions: [expr('tier', 'NotIn', ['frontend'])],
      },
      labels: { environment: 'production', tier: 'frontend' },
      want: false,
    },
    {
      selector: 'environment in (production, qa)',
      sel: { matchExpressions: [expr('environment', 'In', ['production', 'qa'])] },
      labels: { environment: 'qa' },
      want: true,
    },
    {
      selector: 'environment in (production, qa)',
      sel: { matchExpressions: [expr('environment', 'In', ['production', 'qa'])] },
      labels: { environment: 'dev' },
      want: false,
    },
    {
      selector: 'environment in (production, qa)',
      sel: { matchExpressions: [expr('environment', 'In', ['production', 'qa'])] },
      labels: {},
      want: false,
    },
    {
      selector: 'tier notin (frontend, backend)',
      sel: { matchExpressions: [expr('tier', 'NotIn', ['frontend', 'backend'])] },
      labels: { tier: 'cache' },
      want: true,
    },
    {
      selector: 'tier notin (frontend, backend)',
      sel: { matchExpressions: [expr('tier', 'NotIn', ['frontend', 'backend'])] },
      labels: { tier: 'backend' },
      want: false,
    },
    // "and all resources with no labels with the tier key"
    {
      selector: 'tier notin (frontend, backend)',
      sel: { matchExpressions: [expr('tier', 'NotIn', ['frontend', 'backend'])] },
      labels: { environment: 'qa' },
      want: true,
    },
    {
      selector: 'partition',
      sel: { matchExpressions: [expr('partition', 'Exists')] },
      labels: { partition: '' },
      want: true,
    },
    {
      selector: 'partition',
      sel: { matchExpressions: [expr('partition', 'Exists')] },
      labels: {},
      want: false,
    },
    {
      selector: '!partition',
      sel: { matchExpressions: [expr('partition', 'DoesNotExist')] },
      labels: {},
      want: true,
    },
    {
      selector: '!partition',
      sel: { matchExpressions: [expr('partition', 'DoesNotExist')] },
      labels: { partition: 'customerA' },
      want: false,
    },
    {
      selector: 'partition,environment notin (qa)',
      sel: { matchExpressions: [expr('partition', 'Exists'), expr('environment', 'NotIn', ['qa'])] },
      labels: { partition: 'customerA', environment: 'production' },
      want: true,
    },
    {
      selector: 'partition,environment notin (qa)',
      sel: { matchExpressions: [expr('partition', 'Exists'), expr('environment', 'NotIn', ['qa'])] },
      labels: { partition: 'customerA' },
      want: true,
    },
    {
      selector: 'partition,environment notin (qa)',
      sel: { matchExpressions: [expr('partition', 'Exists'), expr('environment', 'NotIn', ['qa'])] },
      labels: { partition: 'customerA', environment: 'qa' },
      want: false,
    },
    {
      selector: 'partition,environment notin (qa)',
      sel: { matchExpressions: [expr('partition', 'Exists'), expr('environment', 'NotIn', ['qa'])] },
      labels: { environment: 'production' },
      want: false,
    },
    // the Job/Deployment selector example: component=redis, tier in (cache), environment notin (dev)
    {
      selector: 'component=redis,tier in (cache),environment notin (dev)',
      sel: {
        matchLabels: { component: 'redis' },
        matchExpressions: [expr('tier', 'In', ['cache']), expr('environment', 'NotIn', ['dev'])],
      },
      labels: { component: 'redis', tier: 'cache', environment: 'production' },
      want: true,
    },
    {
      selector: 'component=redis,tier in (cache),environment notin (dev)',
      sel: {
        matchLabels: { component: 'redis' },
        matchExpressions: [expr('tier', 'In', ['cache']), expr('environment', 'NotIn', ['dev'])],
      },
      labels: { component: 'redis', tier: 'cache', environment: 'dev' },
      want: false,
    },
    {
      selector: 'component=redis,tier in (cache),environment notin (dev)',
      sel: {
        matchLabels: { component: 'redis' },
        matchExpressions: [expr('tier', 'In', ['cache']), expr('environment', 'NotIn', ['dev'])],
      },
      labels: { component: 'redis', environment: 'qa' },
      want: false,
    },
  ];
  for (const c of cases) {
    test(`${c.selector} ${c.want ? 'selects' : 'does not select'} ${JSON.stringify(c.labels)}`, () => {
      assert.equal(matchesSelector(c.sel, c.labels), c.want);
      assert.equal(explainSelector(c.sel, c.labels).matched, c.want);
      assert.deepEqual(validateSelector(c.sel), []);
    });
  }
});
