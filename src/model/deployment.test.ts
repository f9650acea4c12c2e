import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type DeploymentState, deploymentStates, worstState } from './deployment.ts';

// Most severe first, as an operator reads a rollup.
const bySeverity: DeploymentState[] = ['Failed', 'Drifted', 'NotReady', 'Applying', 'Pending', 'Ready'];

describe('worstState', () => {
  test('no deployments have no state', () => {
    assert.equal(worstState([]), undefined);
  });

  test('one deployment shows its own state', () => {
    for (const s of deploymentStates) assert.equal(worstState([s]), s);
  });

  test('Ready only when every deployment is Ready', () => {
    assert.equal(worstState(['Ready', 'Ready', 'Ready']), 'Ready');
    assert.equal(worstState(['Ready', 'Pending', 'Ready']), 'Pending');
  });

  test('a single Failed deployment makes the group Failed', () => {
    assert.equal(worstState(['Ready', 'Drifted', 'Failed', 'Applying']), 'Failed');
  });

  test('each state outranks every state less severe than it', () => {
    for (let i = 0; i < bySeverity.length; i++) {
      for (let j = i + 1; j < bySeverity.length; j++) {
        assert.equal(
          worstState([bySeverity[j]!, bySeverity[i]!]),
          bySeverity[i],
          `${bySeverity[i]} vs ${bySeverity[j]}`,
        );
        assert.equal(
          worstState([bySeverity[i]!, bySeverity[j]!]),
          bySeverity[i],
          `${bySeverity[j]} vs ${bySeverity[i]}`,
        );
      }
    }
  });

  test('any iterable works, such as a generator over stored rows', () => {
    function* rows(): Generator<DeploymentState> {
      yield 'Ready';
      yield 'NotReady';
    }
    assert.equal(worstState(rows()), 'NotReady');
  });

  test('property: the result is one of the inputs, the most severe one, whatever the order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...deploymentStates), { minLength: 1, maxLength: 12 }),
        (states) => {
          const worst = worstState(states);
          assert.ok(worst !== undefined && states.includes(worst));
          const expected = bySeverity.find((s) => states.includes(s));
          assert.equal(worst, expected);
          assert.equal(worstState([...states].reverse()), worst);
        },
      ),
    );
  });
});
