// A rollout's health gate as an operator writes it, and the checks on it: which metric, which bound, how
// per-site values become one number, and what to compare with. Evaluating gates is the rollout's (hub/rollout/core/gates.ts).

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
