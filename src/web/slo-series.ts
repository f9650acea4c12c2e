// An SLO's charted series as the page shows it. The hub's series steps through the window (up to an hour
// apart for a long one), so its last point can predate the newest samples; the view's own budget and 1 h
// burn are over the window ending now, so they are the series' final point.

export interface SloPoint {
  /** ISO time */
  t: string;
  budgetRemaining: number;
  burnRate: number | null;
}

/**
 * The series with a final point at `now` from the view's current values, unless it already ends there.
 *
 * @example
 * const s = [{ t: '2026-01-01T00:00:00.000Z', budgetRemaining: 1, burnRate: null }];
 * seriesToNow(s, { budgetRemaining: 0.5, burn: { fast: 0.5 } }, new Date('2026-01-01T00:30:00Z')).length; // 2
 */
export function seriesToNow(
  series: readonly SloPoint[],
  current: { budgetRemaining: number; burn: { fast: number | null } },
  now: Date,
): SloPoint[] {
  const last = series.at(-1);
  if (last && Date.parse(last.t) >= now.getTime()) return [...series];
  return [
    ...series,
    { t: now.toISOString(), budgetRemaining: current.budgetRemaining, burnRate: current.burn.fast },
  ];
}
