import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { windowProblems } from './maintenance-window.ts';

describe('windowProblems', () => {
  test('a well-formed list has none', () => {
    assert.deepEqual(windowProblems([{ days: ['Sat', 'Sun'], start: '00:00', end: '24:00' }]), []);
    assert.deepEqual(windowProblems([]), []);
  });

  test('each mistake is reported at its path', () => {
    const problems = windowProblems([
      { days: ['Monday', 'Tue', 'Tue'], start: '9:00', end: '25:00', extra: 1 },
      { days: [], start: '22:00', end: '22:00' },
      'nightly',
    ]);
    assert.deepEqual(
      problems.map((p) => p.path),
      [
        'windows[0].extra',
        'windows[0].days[0]',
        'windows[0].days[2]',
        'windows[0].start',
        'windows[0].end',
        'windows[1].days',
        'windows[1].end',
        'windows[2]',
      ],
    );
  });

  test('24:00 is an end, never a start; 00:00–24:00 is a whole day, not an empty window', () => {
    assert.deepEqual(
      windowProblems([{ days: ['Mon'], start: '24:00', end: '05:00' }]).map((p) => p.path),
      ['windows[0].start'],
    );
    assert.deepEqual(windowProblems([{ days: ['Mon'], start: '00:00', end: '24:00' }]), []);
  });
});
