import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compilePlacement, decidePlacement, explainPlacement } from './placement.ts';

const site = (name: string, labels: Record<string, string>, properties: Record<string, unknown> = {}) => ({
  name,
  labels,
  properties,
});

describe('placement decisions', () => {
  const rules = compilePlacement({
    selector: {
      matchLabels: { region: 'west' },
      matchExpressions: [{ key: 'format', operator: 'NotIn', values: ['kiosk'] }],
    },
    cel: 'properties.lanes >= 4',
    include: ['lab-1'],
    exclude: ['store-13'],
  });

  test('a site matching the selector and the expression is targeted', () => {
    assert.deepEqual(decidePlacement(rules, site('store-1', { region: 'west' }, { lanes: 6 })), {
      targeted: true,
    });
  });

  test('the expression narrows what the selector picked', () => {
    assert.deepEqual(decidePlacement(rules, site('store-2', { region: 'west' }, { lanes: 2 })), {
      targeted: false,
    });
  });

  test('exclude wins over a match, include over a mismatch', () => {
    assert.deepEqual(decidePlacement(rules, site('store-13', { region: 'west' }, { lanes: 6 })), {
      targeted: false,
    });
    assert.deepEqual(decidePlacement(rules, site('lab-1', { region: 'east' })), { targeted: true });
  });

  test('the expression is not evaluated for sites the selector leaves out', () => {
    assert.deepEqual(decidePlacement(rules, site('store-3', { region: 'east' })), { targeted: false });
  });

  test('an expression that cannot be evaluated for a site is an error, not a "no"', () => {
    const d = decidePlacement(rules, site('store-4', { region: 'west' }));
    assert.equal(d.targeted, false);
    assert.match(d.error ?? '', /lanes/);
  });
});

describe('explain', () => {
  const rules = compilePlacement({
    selector: {
      matchLabels: { region: 'west' },
      matchExpressions: [{ key: 'format', operator: 'In', values: ['mini', 'max'] }],
    },
    cel: "properties.timezone.startsWith('Europe/')",
    exclude: ['store-13'],
  });

  test('names each selector requirement with its outcome and the failing one in the reason', () => {
    const e = explainPlacement(
      rules,
      site('store-5', { region: 'west', format: 'kiosk' }, { timezone: 'Europe/Paris' }),
    );
    assert.equal(e.targeted, false);
    assert.deepEqual(e.selector.requirements, [
      { requirement: 'region=west', matched: true },
      { requirement: 'format in (max,mini)', matched: false },
    ]);
    assert.equal(e.reason, 'the selector does not match: format in (max,mini)');
    assert.deepEqual(e.cel, { expression: "properties.timezone.startsWith('Europe/')", result: true });
  });

  test('says when the expression is what keeps a site out', () => {
    const e = explainPlacement(
      rules,
      site('store-6', { region: 'west', format: 'mini' }, { timezone: 'America/Lima' }),
    );
    assert.equal(e.targeted, false);
    assert.equal(e.reason, 'the selector matches but the CEL expression is false');
    assert.equal(e.cel?.result, false);
  });

  test('surfaces an evaluation error as the reason and the error', () => {
    const e = explainPlacement(rules, site('store-7', { region: 'west', format: 'mini' }));
    assert.equal(e.targeted, false);
    assert.match(e.error ?? '', /timezone/);
    assert.match(e.reason, /^the CEL expression failed/);
  });

  test('says when a site is excluded by name, even if everything else matches', () => {
    const e = explainPlacement(
      rules,
      site('store-13', { region: 'west', format: 'mini' }, { timezone: 'Europe/Rome' }),
    );
    assert.deepEqual([e.targeted, e.excluded, e.reason], [false, true, 'store-13 is in placement.exclude']);
    assert.equal(e.selector.matched, true);
  });

  test('a targeted site is explained as such', () => {
    const e = explainPlacement(
      rules,
      site('store-8', { region: 'west', format: 'max' }, { timezone: 'Europe/Oslo' }),
    );
    assert.deepEqual([e.targeted, e.reason], [true, 'the selector matches and the CEL expression is true']);
  });
});
