import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Gate, gateProblems } from './rollout-gate.ts';

const errors: Gate = { metric: 'error_rate', op: '<', threshold: 0.05 };

describe('gateProblems', () => {
  test('a complete gate has none', () => {
    assert.deepEqual(
      gateProblems({ ...errors, aggregate: 'p95', compareToBaseline: { maxRatio: 1.5 } }, 'g'),
      [],
    );
  });

  test('each mistake is reported at its path', () => {
    const problems = gateProblems(
      {
        metric: '',
        op: '=<',
        threshold: Number.NaN,
        aggregate: 'median',
        compareToBaseline: { maxRatio: 0 },
        unit: '%',
      },
      'gates[0]',
    );
    assert.deepEqual(
      problems.map((p) => p.path),
      [
        'gates[0].unit',
        'gates[0].metric',
        'gates[0].op',
        'gates[0].threshold',
        'gates[0].aggregate',
        'gates[0].compareToBaseline.maxRatio',
      ],
    );
  });

  test('a comparison must say how much worse is allowed', () => {
    assert.deepEqual(
      gateProblems({ ...errors, compareToBaseline: {} }, 'g').map((p) => p.path),
      ['g.compareToBaseline'],
    );
  });

  test('a comparison is against the sites before their update or the not-updated ones, nothing else', () => {
    const at = (against: unknown) =>
      gateProblems({ ...errors, compareToBaseline: { maxRatio: 2, against } }, 'g').map((p) => p.path);
    assert.deepEqual(at('notUpdated'), []);
    assert.deepEqual(at('before'), []);
    assert.deepEqual(at('yesterday'), ['g.compareToBaseline.against']);
  });
});
