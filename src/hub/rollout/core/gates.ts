// Health gates over per-site measurements: each says pass, fail or no-data, never a silent pass.
// A value that is missing, NaN or infinite is no data (the lesson of Argo Rollouts #4479 and Flagger #883).

import { type Gate, type GateAggregate, type GateOp, gateName } from '../../../model/rollout-gate.ts';

export interface SiteValue {
  siteId: string;
  value: number | undefined;
}

export type GateVerdict = 'pass' | 'fail' | 'no-data';

export interface GateResult {
  gate: string;
  result: GateVerdict;
  observed?: number;
  baseline?: number;
  reason: string;
}

function lowerIsBetter(op: GateOp): boolean {
  return op === '<' || op === '<=';
}

function aggregate(values: number[], how: GateAggregate, op: GateOp): number {
  const sorted = [...values].sort((a, b) => a - b);
  switch (how) {
    case 'worst':
      return lowerIsBetter(op) ? sorted[sorted.length - 1]! : sorted[0]!;
    case 'min':
      return sorted[0]!;
    case 'max':
      return sorted[sorted.length - 1]!;
    case 'avg':
      return sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
    default: {
      const p = Number(how.slice(1));
      return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
    }
  }
}

function holds(observed: number, op: GateOp, threshold: number): boolean {
  switch (op) {
    case '<':
      return observed < threshold;
    case '<=':
      return observed <= threshold;
    case '>':
      return observed > threshold;
    case '>=':
      return observed >= threshold;
  }
}

function usable(values: readonly SiteValue[]): number[] {
  const out: number[] = [];
  for (const v of values) if (typeof v.value === 'number' && Number.isFinite(v.value)) out.push(v.value);
  return out;
}

/**
 * Evaluates one gate over the updated sites' values (and the baseline's, for a comparison).
 *
 * @example
 * const gate = { metric: 'error_rate', op: '<', threshold: 0.05 } as const;
 * evaluateGate(gate, [{ siteId: 'a', value: 0.01 }, { siteId: 'b', value: 0.07 }]).result; // 'fail' (worst is 0.07)
 * evaluateGate(gate, [{ siteId: 'a', value: Number.NaN }]).result; // 'no-data'
 */
export function evaluateGate(
  gate: Gate,
  updated: readonly SiteValue[],
  baseline: readonly SiteValue[] = [],
): GateResult {
  const name = gateName(gate);
  const how = gate.aggregate ?? 'worst';
  const values = usable(updated);
  if (values.length === 0) {
    return {
      gate: name,
      result: 'no-data',
      reason: `no updated site has a usable ${gate.metric} value (${updated.length} asked)`,
    };
  }
  const observed = aggregate(values, how, gate.op);
  const over = `${how} ${gate.metric} over ${values.length} updated site${values.length === 1 ? '' : 's'} is ${observed}`;
  if (!holds(observed, gate.op, gate.threshold)) {
    return { gate: name, result: 'fail', observed, reason: `${over}, not ${gate.op} ${gate.threshold}` };
  }
  const cmp = gate.compareToBaseline;
  if (!cmp) return { gate: name, result: 'pass', observed, reason: `${over}, ${gate.op} ${gate.threshold}` };

  const base = usable(baseline);
  if (base.length === 0) {
    return {
      gate: name,
      result: 'no-data',
      observed,
      reason: `${over}, but no baseline site has a usable ${gate.metric} value to compare with`,
    };
  }
  const reference = aggregate(base, how, gate.op);
  // Degradation measured in the direction the gate cares about, multiplied rather than divided so a
  // zero baseline needs no special case.
  const lower = lowerIsBetter(gate.op);
  const worse = lower ? observed - reference : reference - observed;
  const vs = `${over} against a baseline of ${reference}`;
  if (cmp.maxDelta !== undefined && worse > cmp.maxDelta) {
    return {
      gate: name,
      result: 'fail',
      observed,
      baseline: reference,
      reason: `${vs}: ${worse} worse, more than the allowed ${cmp.maxDelta}`,
    };
  }
  if (
    cmp.maxRatio !== undefined &&
    (lower ? observed > reference * cmp.maxRatio : observed * cmp.maxRatio < reference)
  ) {
    return {
      gate: name,
      result: 'fail',
      observed,
      baseline: reference,
      reason: `${vs}: more than ${cmp.maxRatio} times worse`,
    };
  }
  return { gate: name, result: 'pass', observed, baseline: reference, reason: `${vs}: within bounds` };
}

/**
 * One verdict for a set of gate results: any fail fails, else any no-data is no-data, else pass (and no
 * gates at all pass).
 *
 * @example
 * combineGates([{ gate: 'a', result: 'pass', reason: '' }, { gate: 'b', result: 'no-data', reason: '' }]); // 'no-data'
 */
export function combineGates(results: readonly GateResult[]): GateVerdict {
  if (results.some((r) => r.result === 'fail')) return 'fail';
  if (results.some((r) => r.result === 'no-data')) return 'no-data';
  return 'pass';
}
