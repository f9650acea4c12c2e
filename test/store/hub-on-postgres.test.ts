// The hub's status, query, event-stream, rollout, rollout-gate and telemetry tests again, every hub on a fresh PostgreSQL
// database instead of in-memory SQLite (OUTPOST_TEST_ENGINE=postgres in test/support/hub-server.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { withoutPostgres } from '../support/postgres.ts';

const files = ['query', 'status', 'events-stream', 'rollouts', 'rollout-gates', 'telemetry'].map((f) =>
  join(import.meta.dirname, '../hub', `${f}.test.ts`),
);

test('the hub tests pass with every hub on PostgreSQL', { skip: withoutPostgres, timeout: 600_000 }, () => {
  // a test runner of its own, not a child reporting to this one
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
    env: { ...env, OUTPOST_TEST_ENGINE: 'postgres' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const summary = /ℹ pass (\d+)\nℹ fail (\d+)/.exec(run.stdout);
  assert.equal(run.status, 0, `${run.stdout.slice(-4000)}\n${run.stderr.slice(-2000)}`);
  assert.ok(summary && Number(summary[1]) > 30 && summary[2] === '0', run.stdout.slice(-2000));
});
