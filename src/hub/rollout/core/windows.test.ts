import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type MaintenanceWindow, type Weekday, weekdays } from '../../../model/maintenance-window.ts';
import { inWindow, nextWindowStart, timeZoneProblem } from './windows.ts';

const at = (iso: string): Date => new Date(iso);
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** The open stretches of `windows` between two instants, found minute by minute. */
function openIntervals(
  windows: MaintenanceWindow[],
  tz: string,
  from: string,
  to: string,
): [string, string][] {
  const out: [string, string][] = [];
  let openedAt: number | undefined;
  for (let t = Date.parse(from); t <= Date.parse(to); t += MINUTE) {
    const open = inWindow(windows, tz, new Date(t));
    if (open && openedAt === undefined) openedAt = t;
    if (!open && openedAt !== undefined) {
      out.push([new Date(openedAt).toISOString(), new Date(t).toISOString()]);
      openedAt = undefined;
    }
  }
  return out;
}

describe('inWindow on ordinary days', () => {
  const weeknights: MaintenanceWindow[] = [
    { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '22:00', end: '05:00' },
  ];

  test('no windows means always open, whatever the zone', () => {
    assert.equal(inWindow([], undefined, at('2026-06-01T12:00:00Z')), true);
    assert.equal(inWindow([], 'Mars/Olympus', at('2026-06-01T12:00:00Z')), true);
  });

  test('a window is read on the site’s wall clock, not the hub’s', () => {
    // 2026-06-01 is a Monday; 02:00Z is 22:00 EDT on Sunday in New York and 04:00 on Monday in Berlin.
    assert.equal(inWindow(weeknights, 'America/New_York', at('2026-06-02T02:30:00Z')), true); // Mon 22:30
    assert.equal(inWindow(weeknights, 'Europe/Berlin', at('2026-06-02T02:30:00Z')), true); // Tue 04:30
    assert.equal(inWindow(weeknights, 'Asia/Tokyo', at('2026-06-02T02:30:00Z')), false); // Tue 11:30
  });

  test('Mon–Fri 22:00–05:00 runs from Monday night into Saturday morning, not into Monday morning', () => {
    const tz = 'UTC';
    assert.equal(
      inWindow(weeknights, tz, at('2026-06-01T04:00:00Z')),
      false,
      'Mon 04:00: Sunday is not listed',
    );
    assert.equal(inWindow(weeknights, tz, at('2026-06-01T21:59:00Z')), false, 'Mon 21:59');
    assert.equal(inWindow(weeknights, tz, at('2026-06-01T22:00:00Z')), true, 'Mon 22:00 opens');
    assert.equal(inWindow(weeknights, tz, at('2026-06-02T04:59:59Z')), true, 'Tue 04:59:59');
    assert.equal(inWindow(weeknights, tz, at('2026-06-02T05:00:00Z')), false, 'Tue 05:00 closes');
    assert.equal(inWindow(weeknights, tz, at('2026-06-06T03:00:00Z')), true, 'Sat 03:00, from Friday night');
    assert.equal(inWindow(weeknights, tz, at('2026-06-06T22:30:00Z')), false, 'Sat 22:30');
  });

  test('an end of 24:00 closes at midnight', () => {
    const evening: MaintenanceWindow[] = [{ days: ['Wed'], start: '20:00', end: '24:00' }];
    assert.equal(inWindow(evening, 'UTC', at('2026-06-03T23:59:00Z')), true);
    assert.equal(inWindow(evening, 'UTC', at('2026-06-04T00:00:00Z')), false);
  });

  test('half-hour zones are honoured to the minute', () => {
    const win: MaintenanceWindow[] = [{ days: ['Mon'], start: '02:00', end: '03:00' }];
    // Asia/Kathmandu is UTC+5:45: 02:00 local on Monday 2026-06-01 is 20:15Z on Sunday.
    assert.equal(inWindow(win, 'Asia/Kathmandu', at('2026-05-31T20:14:00Z')), false);
    assert.equal(inWindow(win, 'Asia/Kathmandu', at('2026-05-31T20:15:00Z')), true);
  });
});

describe('windows across DST changes', () => {
  const sunNight: MaintenanceWindow[] = [{ days: ['Sun'], start: '01:00', end: '03:00' }];

  test('New York spring-forward night (2026-03-08): 01:00–03:00 lasts one hour', () => {
    assert.deepEqual(
      openIntervals(sunNight, 'America/New_York', '2026-03-08T04:00:00Z', '2026-03-08T10:00:00Z'),
      [['2026-03-08T06:00:00.000Z', '2026-03-08T07:00:00.000Z']],
    );
  });

  test('New York fall-back night (2026-11-01): 01:00–03:00 lasts three hours, 01:00–02:00 twice', () => {
    assert.deepEqual(
      openIntervals(sunNight, 'America/New_York', '2026-11-01T03:00:00Z', '2026-11-01T10:00:00Z'),
      [['2026-11-01T05:00:00.000Z', '2026-11-01T08:00:00.000Z']],
    );
  });

  test('Berlin spring-forward night (2026-03-29): 01:00–03:00 lasts one hour', () => {
    assert.deepEqual(
      openIntervals(sunNight, 'Europe/Berlin', '2026-03-28T22:00:00Z', '2026-03-29T04:00:00Z'),
      [['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z']],
    );
  });

  test('Berlin fall-back night (2026-10-25): 01:00–03:00 lasts three hours', () => {
    assert.deepEqual(
      openIntervals(sunNight, 'Europe/Berlin', '2026-10-24T21:00:00Z', '2026-10-25T04:00:00Z'),
      [['2026-10-24T23:00:00.000Z', '2026-10-25T02:00:00.000Z']],
    );
  });

  test('a window inside the repeated fall-back hour opens twice', () => {
    const win: MaintenanceWindow[] = [{ days: ['Sun'], start: '01:15', end: '01:45' }];
    assert.deepEqual(openIntervals(win, 'America/New_York', '2026-11-01T04:00:00Z', '2026-11-01T08:00:00Z'), [
      ['2026-11-01T05:15:00.000Z', '2026-11-01T05:45:00.000Z'],
      ['2026-11-01T06:15:00.000Z', '2026-11-01T06:45:00.000Z'],
    ]);
    assert.deepEqual(
      nextWindowStart(win, 'America/New_York', at('2026-11-01T05:50:00Z')),
      at('2026-11-01T06:15:00Z'),
    );
  });

  test('a window that starts in the skipped hour opens when the clock lands past it', () => {
    const win: MaintenanceWindow[] = [{ days: ['Sun'], start: '02:30', end: '04:00' }];
    assert.deepEqual(
      nextWindowStart(win, 'America/New_York', at('2026-03-08T05:00:00Z')),
      at('2026-03-08T07:00:00Z'),
    );
    assert.deepEqual(openIntervals(win, 'America/New_York', '2026-03-08T04:00:00Z', '2026-03-08T10:00:00Z'), [
      ['2026-03-08T07:00:00.000Z', '2026-03-08T08:00:00.000Z'],
    ]);
  });

  test('a window wholly inside the skipped hour does not happen that night', () => {
    const win: MaintenanceWindow[] = [{ days: ['Sun'], start: '02:00', end: '02:30' }];
    assert.deepEqual(openIntervals(win, 'Europe/Berlin', '2026-03-28T22:00:00Z', '2026-03-29T06:00:00Z'), []);
    // The next one is a week later, at 02:00 CEST.
    assert.deepEqual(
      nextWindowStart(win, 'Europe/Berlin', at('2026-03-29T00:00:00Z')),
      at('2026-04-05T00:00:00Z'),
    );
  });
});

describe('nextWindowStart', () => {
  const weeknights: MaintenanceWindow[] = [
    { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '22:00', end: '05:00' },
  ];

  test('is now when a window is open, or when there are no windows', () => {
    const now = at('2026-06-01T22:30:17Z');
    assert.deepEqual(nextWindowStart(weeknights, 'UTC', now), now);
    assert.deepEqual(nextWindowStart([], 'UTC', at('2026-06-01T12:00:00Z')), at('2026-06-01T12:00:00Z'));
  });

  test('over a weekend, is Monday night', () => {
    assert.deepEqual(
      nextWindowStart(weeknights, 'Europe/Berlin', at('2026-06-06T12:00:00Z')),
      at('2026-06-08T20:00:00Z'),
    );
  });

  test('is undefined for a site with no or an unknown time zone', () => {
    assert.equal(nextWindowStart(weeknights, undefined, at('2026-06-06T12:00:00Z')), undefined);
    assert.equal(nextWindowStart(weeknights, 'Mars/Olympus', at('2026-06-06T12:00:00Z')), undefined);
  });

  test('property: it is the first minute from now, found by brute force, when a window is open', () => {
    const zones = [
      'UTC',
      'America/New_York',
      'Europe/Berlin',
      'Australia/Lord_Howe',
      'Asia/Kathmandu',
      'America/Santiago',
    ];
    const clock = fc
      // Hours around 00:00–03:00 are weighted up: that is where DST changes happen.
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 3 })),
        fc.constantFrom(0, 15, 30, 45, 59),
      )
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    const windowArb = fc
      .record({
        days: fc.uniqueArray(fc.constantFrom(...weekdays), { minLength: 1, maxLength: 3 }),
        start: clock,
        end: fc.oneof(clock, fc.constant('24:00')),
      })
      .filter((w) => w.start !== w.end);
    // Dates near the DST changes of the zones above.
    const anchors = [
      '2026-03-08T00:00:00Z',
      '2026-04-05T00:00:00Z',
      '2026-10-04T00:00:00Z',
      '2026-10-24T12:00:00Z',
      '2026-11-01T00:00:00Z',
      '2026-09-06T00:00:00Z',
    ];
    fc.assert(
      fc.property(
        fc.array(windowArb, { minLength: 1, maxLength: 2 }),
        fc.constantFrom(...zones),
        fc.constantFrom(...anchors),
        fc.integer({ min: 0, max: 48 * 60 * 60 - 1 }),
        (windows: MaintenanceWindow[], tz, anchor, offsetSeconds) => {
          const now = Date.parse(anchor) + offsetSeconds * 1000;
          const got = nextWindowStart(windows, tz, new Date(now));
          let want: number | undefined;
          if (inWindow(windows, tz, new Date(now))) want = now;
          else {
            for (let t = Math.ceil(now / MINUTE) * MINUTE; t <= now + 8 * 24 * HOUR; t += MINUTE) {
              if (inWindow(windows, tz, new Date(t))) {
                want = t;
                break;
              }
            }
          }
          assert.equal(got?.getTime(), want);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('time zones', () => {
  test('a missing or unknown zone is a problem, and its windows never open', () => {
    const always: MaintenanceWindow[] = [{ days: [...weekdays] as Weekday[], start: '00:00', end: '24:00' }];
    assert.match(timeZoneProblem(undefined) ?? '', /no time zone/);
    assert.match(timeZoneProblem('') ?? '', /no time zone/);
    assert.match(timeZoneProblem('Mars/Olympus') ?? '', /unknown time zone "Mars\/Olympus"/);
    assert.equal(timeZoneProblem('Europe/Berlin'), undefined);
    assert.equal(inWindow(always, 'UTC', at('2026-06-01T12:00:00Z')), true);
    assert.equal(inWindow(always, undefined, at('2026-06-01T12:00:00Z')), false);
    assert.equal(inWindow(always, 'Mars/Olympus', at('2026-06-01T12:00:00Z')), false);
  });
});
