// Maintenance windows read in each site's own wall-clock time, so "nights only" means the store's night
// wherever it is. Intl with the IANA zone does the calendar work, so DST nights are as long as the clock says.

import {
  clockMinutes,
  type MaintenanceWindow,
  type Weekday,
  weekdays,
} from '../../../model/maintenance-window.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

// Formatters are costly to build and hold no state of their own, so one per zone is kept for reuse.
const formatters = new Map<string, Intl.DateTimeFormat | null>();

function formatterFor(timeZone: string | undefined): Intl.DateTimeFormat | undefined {
  if (timeZone === undefined || timeZone === '') return undefined;
  let fmt = formatters.get(timeZone);
  if (fmt === undefined) {
    try {
      fmt = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        weekday: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      fmt = null;
    }
    formatters.set(timeZone, fmt);
  }
  return fmt ?? undefined;
}

/**
 * Why windows cannot be read for this zone, or undefined when they can. The rule for a missing or unknown
 * zone is "never inside a window": guessing UTC could update a store in the middle of its business day,
 * while holding the site back is visible and fixed by giving the site its zone (or by an emergency rollout).
 *
 * @example
 * timeZoneProblem('Europe/Berlin'); // undefined
 * timeZoneProblem('Mars/Olympus'); // 'unknown time zone "Mars/Olympus"; ...'
 */
export function timeZoneProblem(timeZone: string | undefined): string | undefined {
  if (timeZone === undefined || timeZone === '') {
    return 'the site has no time zone, so its maintenance windows never open; set its timezone property';
  }
  if (!formatterFor(timeZone)) {
    return `unknown time zone ${JSON.stringify(timeZone)}, so the site's maintenance windows never open; use an IANA name such as Europe/Berlin`;
  }
  return undefined;
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  /** 0 = Monday … 6 = Sunday */
  weekday: number;
  /** minutes after local midnight */
  minute: number;
  second: number;
}

function localTime(fmt: Intl.DateTimeFormat, instant: number): LocalTime {
  const t: LocalTime = { year: 0, month: 0, day: 0, weekday: 0, minute: 0, second: 0 };
  for (const part of fmt.formatToParts(instant)) {
    switch (part.type) {
      case 'year':
        t.year = Number(part.value);
        break;
      case 'month':
        t.month = Number(part.value);
        break;
      case 'day':
        t.day = Number(part.value);
        break;
      case 'weekday':
        t.weekday = weekdays.indexOf(part.value as Weekday);
        break;
      case 'hour':
        t.minute += Number(part.value) * 60;
        break;
      case 'minute':
        t.minute += Number(part.value);
        break;
      case 'second':
        t.second = Number(part.value);
        break;
    }
  }
  return t;
}

function openAt(windows: readonly MaintenanceWindow[], t: LocalTime): boolean {
  const today = weekdays[t.weekday]!;
  const yesterday = weekdays[(t.weekday + 6) % 7]!;
  return windows.some((w) => {
    const start = clockMinutes(w.start, false);
    const end = clockMinutes(w.end, true);
    if (start === undefined || end === undefined) return false;
    if (start < end) return w.days.includes(today) && t.minute >= start && t.minute < end;
    return (w.days.includes(today) && t.minute >= start) || (w.days.includes(yesterday) && t.minute < end);
  });
}

/**
 * Whether `now` falls inside one of the windows, read on the site's wall clock. No windows means always
 * open; a missing or unknown zone means never open (see timeZoneProblem).
 *
 * @example
 * const nights = [{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '22:00', end: '05:00' }];
 * inWindow(nights, 'America/New_York', new Date('2026-03-10T04:00:00Z')); // true: Mon 23:00 EDT
 * inWindow(nights, 'America/New_York', new Date('2026-03-10T14:00:00Z')); // false: Tue 10:00 EDT
 */
export function inWindow(
  windows: readonly MaintenanceWindow[],
  timeZone: string | undefined,
  now: Date,
): boolean {
  if (windows.length === 0) return true;
  const fmt = formatterFor(timeZone);
  return fmt !== undefined && openAt(windows, localTime(fmt, now.getTime()));
}

/** Offset of local wall time from UTC at an instant, in ms (positive east of Greenwich). */
function offsetAt(fmt: Intl.DateTimeFormat, instant: number): number {
  const t = localTime(fmt, instant);
  const wall = Date.UTC(t.year, t.month - 1, t.day, 0, t.minute, t.second);
  return wall - Math.floor(instant / 1000) * 1000;
}

/** Every instant whose wall time is the given local date and minute: none in a DST gap, two in an overlap. */
function instantsOf(
  fmt: Intl.DateTimeFormat,
  year: number,
  month: number,
  day: number,
  minute: number,
): number[] {
  const naive = Date.UTC(year, month - 1, day, 0, minute);
  const found = new Set<number>();
  for (const offset of [offsetAt(fmt, naive - DAY), offsetAt(fmt, naive + DAY)]) {
    const instant = naive - offset;
    const t = localTime(fmt, instant);
    if (t.year === year && t.month === month && t.day === day && t.minute === minute) found.add(instant);
  }
  return [...found];
}

/** Instants in [from, to) where the zone's offset changes, to the minute. */
function offsetChanges(fmt: Intl.DateTimeFormat, from: number, to: number): number[] {
  const changes: number[] = [];
  for (let lo = Math.floor(from / MINUTE) * MINUTE; lo < to; lo += DAY) {
    const before = offsetAt(fmt, lo);
    let hi = lo + DAY;
    if (offsetAt(fmt, hi) === before) continue;
    let low = lo;
    while (hi - low > MINUTE) {
      const mid = low + Math.floor((hi - low) / 2 / MINUTE) * MINUTE;
      if (offsetAt(fmt, mid) === before) low = mid;
      else hi = mid;
    }
    changes.push(hi);
  }
  return changes;
}

/**
 * The first instant at or after `now` when a window is open: `now` itself when open already, undefined
 * when no window opens within the next eight days (only possible with an unknown zone). A window can open
 * where a start time occurs on the wall clock (twice on a fall-back night) or where a DST jump lands
 * inside it, so exactly those instants are candidates.
 *
 * @example
 * const nights = [{ days: ['Sun'], start: '02:30', end: '04:00' }];
 * // 02:30 does not exist in New York on 2026-03-08: the window opens when clocks jump to 03:00 EDT.
 * nextWindowStart(nights, 'America/New_York', new Date('2026-03-08T05:00:00Z')); // 2026-03-08T07:00:00Z
 */
export function nextWindowStart(
  windows: readonly MaintenanceWindow[],
  timeZone: string | undefined,
  now: Date,
): Date | undefined {
  const from = now.getTime();
  if (windows.length === 0) return new Date(from);
  const fmt = formatterFor(timeZone);
  if (!fmt) return undefined;
  if (openAt(windows, localTime(fmt, from))) return new Date(from);
  const today = localTime(fmt, from);
  const candidates: number[] = [];
  for (let k = -1; k <= 8; k++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + k));
    const day = weekdays[(date.getUTCDay() + 6) % 7]!;
    for (const w of windows) {
      const start = clockMinutes(w.start, false);
      if (start === undefined || !w.days.includes(day)) continue;
      candidates.push(
        ...instantsOf(fmt, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), start),
      );
    }
  }
  candidates.push(...offsetChanges(fmt, from, from + 9 * DAY));
  candidates.sort((a, b) => a - b);
  const first = candidates.find((c) => c > from && openAt(windows, localTime(fmt, c)));
  return first === undefined ? undefined : new Date(first);
}
