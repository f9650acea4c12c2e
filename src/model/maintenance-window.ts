// Maintenance windows as an operator writes them (weekly, in each site's own wall-clock time) and the
// checks on them. Reading them against a clock is the rollout's (hub/rollout/core/windows.ts).

export const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export type Weekday = (typeof weekdays)[number];

/**
 * A weekly window: opens on each listed day at `start` (site-local) and closes at the next `end`, which
 * is the next day when `end` is not after `start` (Mon 22:00–05:00 runs into Tuesday morning). `end` may
 * be `24:00`. A local time that a DST jump skips never happens, so a window opening inside the skipped
 * hour opens when the clock lands past it.
 */
export interface MaintenanceWindow {
  days: Weekday[];
  start: string;
  end: string;
}

const CLOCK_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes after local midnight; `24:00` is accepted only where `allowMidnight` (a window's end). */
export function clockMinutes(text: string, allowMidnight: boolean): number | undefined {
  if (allowMidnight && text === '24:00') return 24 * 60;
  const m = CLOCK_RE.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/**
 * Problems with a list of windows as written by an operator; an empty list means always open.
 *
 * @example
 * windowProblems([{ days: ['Mon'], start: '22:00', end: '05:00' }]); // []
 * windowProblems([{ days: ['Monday'], start: '9:00', end: '17:00' }]).length; // 2
 */
export function windowProblems(input: unknown, path = 'windows'): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (!Array.isArray(input)) return [{ path, message: 'must be a list of windows' }];
  input.forEach((w: unknown, i) => {
    const at = `${path}[${i}]`;
    if (typeof w !== 'object' || w === null || Array.isArray(w)) {
      problems.push({ path: at, message: 'must be an object with days, start and end' });
      return;
    }
    const win = w as Record<string, unknown>;
    for (const key of Object.keys(win)) {
      if (!['days', 'start', 'end'].includes(key)) {
        problems.push({ path: `${at}.${key}`, message: 'unknown field; a window has days, start and end' });
      }
    }
    const days = win.days;
    if (!Array.isArray(days) || days.length === 0) {
      problems.push({ path: `${at}.days`, message: `must list at least one of ${weekdays.join(', ')}` });
    } else {
      days.forEach((d: unknown, j) => {
        if (!weekdays.includes(d as Weekday)) {
          problems.push({
            path: `${at}.days[${j}]`,
            message: `${JSON.stringify(d)} is not a day; use one of ${weekdays.join(', ')}`,
          });
        } else if (days.indexOf(d) !== j) {
          problems.push({ path: `${at}.days[${j}]`, message: `${d} is listed twice` });
        }
      });
    }
    const start = typeof win.start === 'string' ? clockMinutes(win.start, false) : undefined;
    const end = typeof win.end === 'string' ? clockMinutes(win.end, true) : undefined;
    if (start === undefined) {
      problems.push({ path: `${at}.start`, message: 'must be a 24-hour local time HH:MM, e.g. 22:00' });
    }
    if (end === undefined) {
      problems.push({
        path: `${at}.end`,
        message: 'must be a 24-hour local time HH:MM (or 24:00), e.g. 05:00',
      });
    }
    if (start !== undefined && end !== undefined && start === end) {
      problems.push({
        path: `${at}.end`,
        message: 'must differ from start; for a whole day use start 00:00 and end 24:00',
      });
    }
  });
  return problems;
}
