// Health gates over per-site measurements: each says pass, fail or no-data, never a silent pass.
// A value that is missing, NaN or infinite is no data (the lesson of Argo Rollouts #4479 and Flagger #883).

export const gateOps = ['<', '<=', '>', '>='] as const;
export type GateOp = (typeof gateOps)[number];

/**
 * How per-site values become one number. `worst` (the default) is the max for `<`/`<=` gates and the min
 * for `>`/`>=` gates, so by default every measured site must meet the threshold. Percentiles use the
 * nearest-rank method.
 */
export const gateAggregates = ['worst', 'avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99'] as const;
export type GateAggregate = (typeof gateAggregates)[number];

/**
 * A gate passes when the aggregate over updated sites satisfies `op threshold` and, with
 * `compareToBaseline`, is no worse than the baseline (the same aggregate over the baseline values) by more
 * than `maxRatio` times or `maxDelta`. "Worse" follows `op`: higher is worse for `<`/`<=`, lower for `>`/`>=`.
 */
export interface Gate {
  name?: string;
  metric: string;
  op: GateOp;
  threshold: number;
  aggregate?: GateAggregate;
  compareToBaseline?: {
    maxRatio?: number;
    maxDelta?: number;
    /**
     * what the updated sites are compared with: `before` (default), each updated site's own values from
     * before it started; `notUpdated`, the current values of the rollout's sites still on the old revision
     * (a control group that sees the same day's traffic)
     */
    against?: BaselineSource;
  };
}

export const baselineSources = ['before', 'notUpdated'] as const;
export type BaselineSource = (typeof baselineSources)[number];

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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Problems with a gate as written by an operator.
 *
 * @example
 * gateProblems({ metric: 'error_rate', op: '<', threshold: 0.05 }, 'gates[0]'); // []
 * gateProblems({ metric: 'error_rate', op: '=<', threshold: '5%' }, 'gates[0]').length; // 2
 */
export function gateProblems(input: unknown, path: string): { path: string; message: string }[] {
  if (!isRecord(input)) return [{ path, message: 'must be an object with metric, op and threshold' }];
  const problems: { path: string; message: string }[] = [];
  const known = ['name', 'metric', 'op', 'threshold', 'aggregate', 'compareToBaseline'];
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      problems.push({ path: `${path}.${key}`, message: `unknown field; a gate has ${known.join(', ')}` });
    }
  }
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name === '')) {
    problems.push({ path: `${path}.name`, message: 'must be a non-empty string' });
  }
  if (typeof input.metric !== 'string' || input.metric === '') {
    problems.push({ path: `${path}.metric`, message: 'must name the metric, e.g. error_rate' });
  }
  if (!gateOps.includes(input.op as GateOp)) {
    problems.push({ path: `${path}.op`, message: `must be one of ${gateOps.join(' ')}` });
  }
  if (typeof input.threshold !== 'number' || !Number.isFinite(input.threshold)) {
    problems.push({ path: `${path}.threshold`, message: 'must be a finite number' });
  }
  if (input.aggregate !== undefined && !gateAggregates.includes(input.aggregate as GateAggregate)) {
    problems.push({ path: `${path}.aggregate`, message: `must be one of ${gateAggregates.join(', ')}` });
  }
  const cmp = input.compareToBaseline;
  if (cmp !== undefined) {
    const at = `${path}.compareToBaseline`;
    if (!isRecord(cmp) || (cmp.maxRatio === undefined && cmp.maxDelta === undefined)) {
      problems.push({ path: at, message: 'must set maxRatio, maxDelta or both' });
    } else {
      for (const key of Object.keys(cmp)) {
        if (key !== 'maxRatio' && key !== 'maxDelta' && key !== 'against') {
          problems.push({
            path: `${at}.${key}`,
            message: 'unknown field; use maxRatio, maxDelta and against',
          });
        }
      }
      if (cmp.against !== undefined && !baselineSources.includes(cmp.against as BaselineSource)) {
        problems.push({ path: `${at}.against`, message: `must be one of ${baselineSources.join(', ')}` });
      }
      const { maxRatio, maxDelta } = cmp;
      if (
        maxRatio !== undefined &&
        (typeof maxRatio !== 'number' || !Number.isFinite(maxRatio) || maxRatio <= 0)
      ) {
        problems.push({
          path: `${at}.maxRatio`,
          message: 'must be a positive number, e.g. 1.5 for "at most 50% worse"',
        });
      }
      if (
        maxDelta !== undefined &&
        (typeof maxDelta !== 'number' || !Number.isFinite(maxDelta) || maxDelta < 0)
      ) {
        problems.push({ path: `${at}.maxDelta`, message: 'must be a number of 0 or more' });
      }
    }
  }
  return problems;
}

/**
 * What a gate is called in results and events: its name, or else its metric.
 *
 * @example
 * gateName({ metric: 'error_rate', op: '<', threshold: 0.05 }); // 'error_rate'
 */
export function gateName(gate: Gate): string {
  return gate.name ?? gate.metric;
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
