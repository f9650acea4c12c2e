// The chaos table's merge: a partial run of `npm run chaos -- NAME` replaces that file's rows only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chaosTable, parseChaosRows } from './chaos-table.ts';

const row = (scenario: string, file: string, result: string) => ({
  scenario,
  file,
  line: `| ${scenario} | ${file} | 1 | checked | figures | ${result} | 2026-12-05 20:00 UTC, 5 s, load 1.0 |`,
});

test('a run of one scenario file replaces its rows and keeps the other files’ rows', () => {
  const before = chaosTable([], new Set(), [
    row('agent-killed-apply', 'agent-killed-apply.test.ts', 'pass'),
    row('agent-killed-prune', 'agent-killed-apply.test.ts', 'pass'),
    row('clock-skew', 'clock-skew.test.ts', '**FAIL**'),
  ]);
  const previous = parseChaosRows(`Written by npm run chaos.\n\n${before}`);
  assert.deepEqual(
    previous.map((r) => [r.scenario, r.file]),
    [
      ['agent-killed-apply', 'agent-killed-apply.test.ts'],
      ['agent-killed-prune', 'agent-killed-apply.test.ts'],
      ['clock-skew', 'clock-skew.test.ts'],
    ],
  );
  const after = parseChaosRows(
    chaosTable(previous, new Set(['clock-skew.test.ts']), [row('clock-skew', 'clock-skew.test.ts', 'pass')]),
  );
  assert.deepEqual(
    after.map((r) => [r.scenario, r.line.includes('| pass |')]),
    [
      ['agent-killed-apply', true],
      ['agent-killed-prune', true],
      ['clock-skew', true],
    ],
  );
});

test('a file that ran and wrote fewer scenarios leaves none of its old rows behind', () => {
  const previous = [
    row('agent-killed-apply', 'agent-killed-apply.test.ts', 'pass'),
    row('agent-killed-prune', 'agent-killed-apply.test.ts', 'pass'),
  ];
  const after = parseChaosRows(
    chaosTable(previous, new Set(['agent-killed-apply.test.ts']), [
      row('agent-killed-apply', 'agent-killed-apply.test.ts', '**FAIL**'),
    ]),
  );
  assert.deepEqual(
    after.map((r) => r.scenario),
    ['agent-killed-apply'],
  );
});

test('rows of the older table without a file column are not taken for rows', () => {
  assert.deepEqual(parseChaosRows('| hub-disk-full | 1 | checked | figures | pass |'), []);
});
