import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { runProgram, toolMessage } from './program.ts';

const sh = (script: string, more: { timeoutMs?: number; maxOutputBytes?: number; input?: string } = {}) =>
  runProgram({
    file: '/bin/sh',
    args: ['-c', script],
    env: { PATH: '/usr/bin:/bin' },
    timeoutMs: more.timeoutMs ?? 10_000,
    maxOutputBytes: more.maxOutputBytes ?? 1 << 20,
    ...(more.input !== undefined ? { input: more.input } : {}),
  });

describe('runProgram', { timeout: 20_000 }, () => {
  test('gives the exit code, standard output and standard error', async () => {
    const r = await sh('cat; echo oops >&2; exit 3', { input: 'values' });
    assert.equal(r.code, 3);
    assert.equal(r.stdout.toString(), 'values');
    assert.equal(r.stderr, 'oops\n');
    assert.equal(r.timedOut, false);
  });

  test('the deadline ends the program and what it started', async () => {
    const started = Date.now();
    const r = await sh('sleep 30 & echo $!; wait', { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.equal(r.code, null);
    assert.ok(Date.now() - started < 5000);
    // gone, or a zombie nobody reaps yet: either way no longer running
    const grandchild = Number(r.stdout.toString().trim());
    const state = existsSync(`/proc/${grandchild}/stat`)
      ? readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(') ')[1]?.[0]
      : 'gone';
    assert.ok(state === 'gone' || state === 'Z', `sleep is still ${state}`);
  });

  test('output over the limit ends the run', async () => {
    const r = await sh('yes outpost', { maxOutputBytes: 64 * 1024 });
    assert.equal(r.outputExceeded, true);
    assert.equal(r.code, null);
    assert.ok(r.stdout.length <= 64 * 1024);
  });

  test('a missing executable is reported, not thrown', async () => {
    const r = await runProgram({
      file: '/nonexistent/helm',
      args: [],
      env: {},
      timeoutMs: 1000,
      maxOutputBytes: 1,
    });
    assert.equal(r.startError?.code, 'ENOENT');
    assert.equal(r.code, null);
  });
});

test('toolMessage keeps the last non-blank lines of standard error, on one line', () => {
  assert.equal(toolMessage('a\n\nb\n  \nc\n  d\n', 2), 'c d');
});
