import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Gate } from '../../../model/rollout-gate.ts';
import { combineGates, evaluateGate, type GateResult, type SiteValue } from './gates.ts';

const errors: Gate = { metric: 'error_rate', op: '<', threshold: 0.05 };
const success: Gate = { metric: 'success_rate', op: '>=', threshold: 0.99 };

function values(...vs: (number | undefined)[]): SiteValue[] {
  return vs.map((value, i) => ({ siteId: `s${i}`, value }));
}

describe('evaluateGate', () => {
  const cases: {
    name: string;
    gate: Gate;
    updated: SiteValue[];
    baseline?: SiteValue[];
    want: GateResult['result'];
    observed?: number;
  }[] = [
    {
      name: 'every site under the threshold passes',
      gate: errors,
      updated: values(0.01, 0.02),
      want: 'pass',
      observed: 0.02,
    },
    {
      name: 'by default the worst site decides (`<`: the max)',
      gate: errors,
      updated: values(0.01, 0.07),
      want: 'fail',
      observed: 0.07,
    },
    {
      name: 'by default the worst site decides (`>=`: the min)',
      gate: success,
      updated: values(0.999, 0.95),
      want: 'fail',
      observed: 0.95,
    },
    {
      name: 'avg smooths one bad site',
      gate: { ...errors, aggregate: 'avg' },
      updated: values(0.01, 0.07),
      want: 'pass',
      observed: 0.04,
    },
    {
      name: 'p50 takes the nearest-rank median',
      gate: { ...errors, aggregate: 'p50' },
      updated: values(0.3, 0.01, 0.02, 0.2),
      want: 'pass',
      observed: 0.02,
    },
    {
      name: 'p90 of ten values is the ninth',
      gate: { ...errors, aggregate: 'p90' },
      updated: values(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
      want: 'fail',
      observed: 9,
    },
    { name: 'the threshold itself fails a strict `<`', gate: errors, updated: values(0.05), want: 'fail' },
    { name: 'the threshold itself passes `>=`', gate: success, updated: values(0.99), want: 'pass' },
    { name: 'no updated site is no data', gate: errors, updated: [], want: 'no-data' },
    {
      name: 'sites without a value are no data',
      gate: errors,
      updated: values(undefined, undefined),
      want: 'no-data',
    },
    { name: 'NaN is no data, never a pass', gate: errors, updated: values(Number.NaN), want: 'no-data' },
    {
      name: 'NaN is no data for `>` too (NaN > x is false, NaN < x is false)',
      gate: success,
      updated: values(Number.NaN),
      want: 'no-data',
    },
    {
      name: 'Infinity is no data',
      gate: errors,
      updated: values(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      want: 'no-data',
    },
    {
      name: 'a NaN site is left out, the others decide',
      gate: errors,
      updated: values(Number.NaN, 0.2),
      want: 'fail',
      observed: 0.2,
    },
    {
      name: 'a comparison without baseline values is no data',
      gate: { ...errors, compareToBaseline: { maxRatio: 2 } },
      updated: values(0.01),
      baseline: values(Number.NaN),
      want: 'no-data',
    },
    {
      name: 'a threshold failure needs no baseline to fail',
      gate: { ...errors, compareToBaseline: { maxRatio: 2 } },
      updated: values(0.5),
      baseline: [],
      want: 'fail',
    },
    {
      name: 'maxRatio fails a lower-is-better metric that tripled',
      gate: { ...errors, compareToBaseline: { maxRatio: 2 } },
      updated: values(0.03),
      baseline: values(0.01),
      want: 'fail',
    },
    {
      name: 'maxRatio passes a lower-is-better metric that doubled',
      gate: { ...errors, compareToBaseline: { maxRatio: 2 } },
      updated: values(0.02),
      baseline: values(0.01),
      want: 'pass',
    },
    {
      name: 'maxRatio against a zero baseline fails any rise',
      gate: { ...errors, compareToBaseline: { maxRatio: 10 } },
      updated: values(0.001),
      baseline: values(0),
      want: 'fail',
    },
    {
      name: 'maxDelta fails a higher-is-better metric that dropped too far',
      gate: { ...success, threshold: 0.9, compareToBaseline: { maxDelta: 0.01 } },
      updated: values(0.97),
      baseline: values(0.999),
      want: 'fail',
    },
    {
      name: 'maxRatio passes a higher-is-better metric that improved',
      gate: { ...success, threshold: 0.9, compareToBaseline: { maxRatio: 1.01 } },
      updated: values(0.999),
      baseline: values(0.95),
      want: 'pass',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = evaluateGate(c.gate, c.updated, c.baseline);
      assert.equal(r.result, c.want, r.reason);
      if (c.observed !== undefined)
        assert.ok(Math.abs((r.observed ?? Number.NaN) - c.observed) < 1e-12, r.reason);
      assert.ok(r.reason.length > 0);
    });
  }

  test('the result names the gate, by its name or else its metric', () => {
    assert.equal(evaluateGate(errors, values(0.01)).gate, 'error_rate');
    assert.equal(evaluateGate({ ...errors, name: 'errors' }, values(0.01)).gate, 'errors');
  });

  test('property: a gate passes only on finite data, and only when the worst finite value holds', () => {
    const value = fc.oneof(
      fc.double({ noNaN: false }),
      fc.constant(undefined),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY),
    );
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 8 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (vs, threshold) => {
          const gate: Gate = { metric: 'm', op: '<=', threshold };
          const r = evaluateGate(gate, values(...vs));
          const finite = vs.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
          if (finite.length === 0) assert.equal(r.result, 'no-data');
          else assert.equal(r.result, Math.max(...finite) <= threshold ? 'pass' : 'fail');
        },
      ),
    );
  });
});

describe('combineGates', () => {
  const r = (result: GateResult['result']): GateResult => ({ gate: result, result, reason: '' });
  test('no gates pass; any failure fails; otherwise missing data is no data', () => {
    assert.equal(combineGates([]), 'pass');
    assert.equal(combineGates([r('pass'), r('pass')]), 'pass');
    assert.equal(combineGates([r('pass'), r('no-data')]), 'no-data');
    assert.equal(combineGates([r('no-data'), r('fail')]), 'fail');
  });
});
