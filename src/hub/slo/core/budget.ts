// SLO arithmetic, pure: attainment, error budget remaining, burn rates and multi-window multi-burn-rate
// alerts (Google SRE workbook, "Alerting on SLOs"). Counts come in; numbers and verdicts go out.

/** Requests and the bad ones among them over some span (errors or slow requests, by the SLI kind). */
export interface Counts {
  requests: number;
  bad: number;
}

const units: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * An SLO window in milliseconds, or undefined when it is not `<n>m`, `<n>h` or `<n>d`.
 *
 * @example
 * windowMs('28d'); // 2419200000
 * windowMs('1w'); // undefined
 */
export function windowMs(window: string): number | undefined {
  const m = /^([1-9][0-9]{0,5})([mhd])$/.exec(window);
  return m ? Number(m[1]) * units[m[2]!]! : undefined;
}

/**
 * Share of good requests, or null with no requests (no data is not 100%).
 *
 * @example
 * attainment({ requests: 1_000_000, bad: 300 }); // 0.9997
 */
export function attainment(c: Counts): number | null {
  return c.requests > 0 ? 1 - c.bad / c.requests : null;
}

/**
 * How fast the budget burns: the bad share divided by the share the objective allows. 1 spends exactly
 * the budget over the window; null with no requests.
 *
 * @example
 * burnRate({ requests: 10_000, bad: 150 }, 0.999); // 15 (1.5% bad against 0.1% allowed)
 */
export function burnRate(c: Counts, objective: number): number | null {
  if (c.requests <= 0) return null;
  return c.bad / c.requests / (1 - objective);
}

/**
 * The part of the window's error budget left: 1 untouched, 0 spent, negative when overspent. A window
 * with no requests has spent nothing.
 *
 * @example
 * budgetRemaining({ requests: 1_000_000, bad: 300 }, 0.999); // 0.7 (300 of 1,000 allowed bad requests used)
 */
export function budgetRemaining(c: Counts, objective: number): number {
  const burn = burnRate(c, objective);
  return burn === null ? 1 : 1 - burn;
}

/** One burn-rate alert: fires when the burn over both the long and the short window exceeds `factor`. */
export interface BurnRule {
  kind: 'fast' | 'slow';
  longMs: number;
  shortMs: number;
  factor: number;
  /** Alertmanager `severity` label */
  severity: string;
}

/**
 * The workbook's table for a 30-day window (used as is for other windows): fast burn spends 2% of the
 * budget in an hour (14.4×, checked over 1 h and 5 m), slow burn 5% in six hours (6×, over 6 h and 30 m).
 * The short window makes an alert stop soon after the burn does.
 */
export const defaultBurnRules: readonly BurnRule[] = [
  { kind: 'fast', longMs: 3_600_000, shortMs: 300_000, factor: 14.4, severity: 'page' },
  { kind: 'slow', longMs: 21_600_000, shortMs: 1_800_000, factor: 6, severity: 'ticket' },
];

export interface BurnVerdict {
  rule: BurnRule;
  long: number | null;
  short: number | null;
  firing: boolean;
}

/**
 * Evaluates each rule with the counts over its windows (ending now). No data in either window never fires.
 *
 * @example
 * const over = (ms: number) => (ms === 3_600_000 ? { requests: 10_000, bad: 150 } : { requests: 800, bad: 12 });
 * evaluateBurn([defaultBurnRules[0]!], over, 0.999)[0]!.firing; // true: 15 and 15, both above 14.4
 */
export function evaluateBurn(
  rules: readonly BurnRule[],
  countsOver: (ms: number) => Counts,
  objective: number,
): BurnVerdict[] {
  return rules.map((rule) => {
    const long = burnRate(countsOver(rule.longMs), objective);
    const short = burnRate(countsOver(rule.shortMs), objective);
    const firing = long !== null && short !== null && long > rule.factor && short > rule.factor;
    return { rule, long, short, firing };
  });
}

/**
 * The SLO's alert level: the fastest firing rule wins.
 *
 * @example
 * alertLevel([{ kind: 'slow', firing: true }, { kind: 'fast', firing: false }]); // 'slow-burn'
 */
export function alertLevel(
  verdicts: readonly { kind: BurnRule['kind']; firing: boolean }[],
): 'ok' | 'slow-burn' | 'fast-burn' {
  if (verdicts.some((v) => v.kind === 'fast' && v.firing)) return 'fast-burn';
  if (verdicts.some((v) => v.kind === 'slow' && v.firing)) return 'slow-burn';
  return 'ok';
}

/** A 5-minute (or any fixed-length) bucket of SLO totals. */
export interface TotalsBucket {
  start: number;
  requests: number;
  errors: number;
  slow: number;
}

/**
 * The counts of buckets starting in [from, to), with bad read as errors or slow requests.
 *
 * @example
 * countsIn([{ start: 0, requests: 10, errors: 1, slow: 3 }], 0, 300_000, 'latency'); // { requests: 10, bad: 3 }
 */
export function countsIn(
  buckets: readonly TotalsBucket[],
  from: number,
  to: number,
  kind: 'errors' | 'latency',
): Counts {
  let requests = 0;
  let bad = 0;
  for (const b of buckets) {
    if (b.start < from || b.start >= to) continue;
    requests += b.requests;
    bad += kind === 'errors' ? b.errors : b.slow;
  }
  return { requests, bad };
}
