// A strategy's portions made into site counts for a rollout of a given size: how many sites a wave takes,
// how many may update at once, how many may fail.

import { type Portion, percentValue } from '../../../model/rollout-strategy.ts';

/**
 * Share of a total for a wave or the concurrency cap: rounds down, but never below 1 while there is
 * anything to share, so a small fleet still moves. (Fleet turns `"0%"` into 1; here 0 and `"0%"` are
 * rejected by validation instead.)
 *
 * @example
 * shareOf(10, 3); // 1
 * shareOf(10, 25); // 2
 * shareOf(10, 0); // 0
 */
export function shareOf(percent: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(total, Math.max(1, Math.floor((percent * total) / 100)));
}

/**
 * How many sites may update at once in a rollout of `total` sites.
 *
 * @example
 * concurrencyLimit('10%', 3); // 1
 * concurrencyLimit('10%', 250); // 25
 * concurrencyLimit(5, 3); // 5
 */
export function concurrencyLimit(maxConcurrent: Portion, total: number): number {
  const pct = percentValue(maxConcurrent);
  if (pct === undefined) return Math.max(1, Number(maxConcurrent));
  return Math.max(1, shareOf(pct, total));
}

/**
 * How many failed sites a rollout of `total` sites tolerates. A share rounds down, so a small fleet gets
 * the stricter budget: `"10%"` of 5 sites is 0, zero tolerance.
 *
 * @example
 * failureBudget('10%', 5); // 0
 * failureBudget('10%', 25); // 2
 * failureBudget(0, 1000); // 0
 */
export function failureBudget(maxFailures: Portion, total: number): number {
  const pct = percentValue(maxFailures);
  if (pct === undefined) return Math.max(0, Number(maxFailures));
  return Math.floor((pct * total) / 100);
}
