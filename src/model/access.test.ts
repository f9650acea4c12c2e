import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bindingProblems,
  mayChangeBundle,
  mayCreateBundle,
  normalizeBinding,
  type RoleBinding,
  reachesFleet,
  selectionWithinReach,
  selectorWithin,
  siteReach,
  strongestRole,
  teamOfNewBundle,
} from './access.ts';

const west = { matchLabels: { region: 'west' } };

test('a binding without a selector reaches every site; with one, what it picks', () => {
  assert.deepEqual(siteReach([{ role: 'viewer' }], 'viewer'), { all: true });
  assert.deepEqual(siteReach([{ role: 'operator', sites: west }], 'viewer'), {
    all: false,
    selectors: [west],
  });
  assert.deepEqual(siteReach([{ role: 'viewer', sites: west }], 'operator'), { all: false, selectors: [] });
  // a viewer over the fleet and an operator over west: reads everywhere, acts on west
  const mixed: RoleBinding[] = [{ role: 'viewer' }, { role: 'operator', sites: west }];
  assert.deepEqual(siteReach(mixed, 'viewer'), { all: true });
  assert.deepEqual(siteReach(mixed, 'operator'), { all: false, selectors: [west] });
  assert.equal(strongestRole(mixed), 'operator');
});

test('fleet-wide work needs a binding over every site; fleet changes also one free of a team', () => {
  assert.equal(reachesFleet([{ role: 'admin', sites: west }], 'viewer', false), false);
  assert.equal(reachesFleet([{ role: 'admin', team: 'pos' }], 'admin', false), true);
  assert.equal(reachesFleet([{ role: 'admin', team: 'pos' }], 'admin', true), false);
  assert.equal(reachesFleet([{ role: 'admin' }], 'admin', true), true);
});

test('a team changes its own bundles only; a team-free operator any; a site-bound one none', () => {
  assert.equal(mayChangeBundle([{ role: 'operator', team: 'pos' }], 'pos'), true);
  assert.equal(mayChangeBundle([{ role: 'operator', team: 'pos' }], 'kiosk'), false);
  assert.equal(mayChangeBundle([{ role: 'operator', team: 'pos' }], null), false);
  assert.equal(mayChangeBundle([{ role: 'operator' }], 'kiosk'), true);
  assert.equal(mayChangeBundle([{ role: 'viewer', team: 'pos' }], 'pos'), false);
  assert.equal(mayChangeBundle([{ role: 'admin', sites: west }], null), false);
  assert.equal(mayCreateBundle([{ role: 'operator', team: 'pos' }]), true);
  assert.equal(mayCreateBundle([{ role: 'operator', sites: west }]), false);
  assert.equal(teamOfNewBundle([{ role: 'operator', team: 'pos' }]), 'pos');
  assert.equal(teamOfNewBundle([{ role: 'operator', team: 'pos' }, { role: 'operator' }]), null);
});

test('a selector lies within another when it repeats every requirement of it', () => {
  assert.equal(selectorWithin({ matchLabels: { region: 'west', format: 'mini' } }, west), true);
  assert.equal(
    selectorWithin({ matchExpressions: [{ key: 'region', operator: 'In', values: ['west'] }] }, west),
    true,
  );
  assert.equal(selectorWithin({ matchLabels: { format: 'mini' } }, west), false);
  assert.equal(selectorWithin(undefined, west), false);
  const notKiosk = {
    matchExpressions: [{ key: 'format', operator: 'NotIn' as const, values: ['kiosk', 'a'] }],
  };
  assert.equal(
    selectorWithin(
      {
        matchLabels: { x: 'y' },
        matchExpressions: [{ key: 'format', operator: 'NotIn', values: ['a', 'kiosk'] }],
      },
      notKiosk,
    ),
    true,
  );
  // sound, not complete: In (west) implies In (west, east), but that is not seen
  const westOrEast = {
    matchExpressions: [{ key: 'region', operator: 'In' as const, values: ['west', 'east'] }],
  };
  assert.equal(selectorWithin(west, westOrEast), false);
  assert.equal(selectionWithinReach([{ role: 'viewer' }], 'viewer', undefined), true);
  assert.equal(selectionWithinReach([{ role: 'viewer', sites: west }], 'viewer', west), true);
});

test('bindings are checked and an empty selector means every site', () => {
  assert.deepEqual(bindingProblems([]), ['bindings: at least one binding']);
  assert.match(bindingProblems([{ role: 'root' as never }])[0]!, /bindings\[0\]\.role/);
  assert.match(bindingProblems([{ role: 'viewer', team: 'Not Valid' }])[0]!, /bindings\[0\]\.team/);
  assert.match(
    bindingProblems([{ role: 'viewer', sites: { matchLabels: { 'a/b/c': 'x' } } }])[0]!,
    /bindings\[0\]\.sites\.matchLabels/,
  );
  assert.deepEqual(normalizeBinding({ role: 'viewer', sites: {} }), { role: 'viewer' });
});
