import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileProfiles, matchProfile } from './matching.ts';

const site = (name: string, labels: Record<string, string>, properties: Record<string, unknown> = {}) => ({
  name,
  labels,
  properties,
});

const profiles = compileProfiles([
  { name: 'store-mini', placement: { selector: { matchLabels: { format: 'mini' } } } },
  { name: 'store-west', placement: { selector: { matchLabels: { region: 'west' } }, exclude: ['store-9'] } },
  { name: 'lab', placement: { selector: { matchLabels: { nothing: 'x' } }, include: ['lab-1'] } },
]);

test('a site matched by one profile follows it', () => {
  assert.deepEqual(matchProfile(profiles, site('store-1', { format: 'mini', region: 'east' })), {
    kind: 'matched',
    profile: 'store-mini',
  });
  assert.deepEqual(matchProfile(profiles, site('lab-1', {})), { kind: 'matched', profile: 'lab' });
});

test('a site matched by two profiles is refused with both names', () => {
  assert.deepEqual(matchProfile(profiles, site('store-2', { format: 'mini', region: 'west' })), {
    kind: 'conflict',
    profiles: ['store-mini', 'store-west'],
    message:
      'site store-2 is matched by profiles store-mini and store-west; a site follows one profile: narrow their placement',
  });
});

test('exclude takes a site out of a profile as it does of a bundle', () => {
  assert.deepEqual(matchProfile(profiles, site('store-9', { format: 'mini', region: 'west' })), {
    kind: 'matched',
    profile: 'store-mini',
  });
});

test('a rule that cannot be decided for a site says so instead of reading as no match', () => {
  const cel = compileProfiles([{ name: 'big', placement: { selector: {}, cel: 'properties.lanes > 4' } }]);
  assert.equal(matchProfile(cel, site('store-3', {})).kind, 'undecided');
});

test('property: a site follows a profile exactly when one and only one profile targets it', () => {
  const label = fc.constantFrom('a', 'b', 'c');
  fc.assert(
    fc.property(
      fc.uniqueArray(label, { minLength: 1, maxLength: 3 }),
      fc.array(label, { maxLength: 3 }),
      (names, labels) => {
        const compiled = compileProfiles(
          names.map((n) => ({
            name: n,
            placement: { selector: { matchExpressions: [{ key: n, operator: 'Exists' }] } },
          })),
        );
        const result = matchProfile(compiled, site('s', Object.fromEntries(labels.map((l) => [l, 'y']))));
        const targeted = names.filter((n) => labels.includes(n));
        if (targeted.length === 0) assert.equal(result.kind, 'none');
        else if (targeted.length === 1) assert.deepEqual(result, { kind: 'matched', profile: targeted[0] });
        else assert.deepEqual(result.kind === 'conflict' && result.profiles, [...targeted].sort());
      },
    ),
  );
});
