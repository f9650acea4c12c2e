// What every fuzz target shares: the shape of a target (inputs from a grammar-aware arbitrary, a check
// that throws when a property fails), the properties every boundary keeps (no crash, no 5xx, a stable
// error code, an answer within a second) and a runner that counts inputs, time and rejections by code.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type ErrorCode, OutpostError, statusOf } from '../../src/model/errors.ts';

/** One parser or endpoint under fuzzing. */
export interface FuzzTarget<T = unknown> {
  name: string;
  /** what it feeds and to what, one line for docs/reliability.md */
  covers: string;
  arbitrary: fc.Arbitrary<T>;
  /** inputs in the normal test run, sized so that all the fuzz tests together stay under a minute */
  testRuns: number;
  /** defects this target found, fixed with a test that failed before the fix (for docs/reliability.md) */
  found?: readonly string[];
  /** checks one input: throws when a property fails (an unexpected error counts as a failure) */
  check(input: T): void | Promise<void>;
}

/** Targets that share state (a hub), and how to end it. */
export interface FuzzSuite {
  targets: FuzzTarget[];
  close(): Promise<void>;
}

/**
 * Longest any one input may take, parsing or answering, in CPU time of this process: on a machine
 * shared with other work, wall time says more about the neighbours than about the parser.
 */
export const perInputLimitMs = 1000;
/** Longest any one input may take in wall time: an answer that never comes (a stall, not work). */
export const stallLimitMs = 10_000;

export function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && statusOf(code as ErrorCode) !== undefined;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** The rejections of the target being run, by code; runTarget owns it, one target at a time. */
let rejections: Map<string, number> | undefined;

/** Counts a rejection of the input being checked; a validator that returns its problems names its own. */
export function countRejection(code: string): void {
  rejections?.set(code, (rejections.get(code) ?? 0) + 1);
}

/**
 * Asserts that `e` is a rejection a caller can act on: an OutpostError with a known 4xx code, or one of
 * the module's own documented error types (with a string `code` when the type has one). Anything else
 * (a TypeError, a RangeError) is thrown on as the failure it is.
 */
export function assertRejection(e: unknown, documented: readonly ErrorClass[] = []): void {
  if (e instanceof OutpostError) {
    assert.ok(isKnownCode(e.code), `unknown error code ${e.code}`);
    assert.ok(e.status < 500, `a ${e.status} (${e.code}) for bad input: ${e.message}`);
    countRejection(e.code);
    return;
  }
  for (const type of documented) {
    if (e instanceof type) {
      if ('code' in e) assert.equal(typeof e.code, 'string', 'a documented error carries a string code');
      countRejection('code' in e ? String(e.code) : type.name);
      return;
    }
  }
  throw e;
}

/** Runs a parser on one input: a value, or a documented rejection (see assertRejection). */
export function parsedOrRejected<T>(parse: () => T, documented: readonly ErrorClass[] = []): T | undefined {
  try {
    return parse();
  } catch (e) {
    assertRejection(e, documented);
    return undefined;
  }
}

/** An HTTP answer to bad input: never 5xx, and every 4xx in the error shape with a known code. */
export function assertAnswer(res: { statusCode: number; body: string }, what: string): void {
  assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  if (res.statusCode >= 400) {
    let code: unknown;
    try {
      code = (JSON.parse(res.body) as { error?: { code?: unknown } }).error?.code;
    } catch {
      assert.fail(`${what}: a ${res.statusCode} whose body is not JSON: ${res.body.slice(0, 200)}`);
    }
    assert.ok(
      isKnownCode(code),
      `${what}: ${res.statusCode} without a known error code: ${res.body.slice(0, 300)}`,
    );
    countRejection(String(code));
  }
}

/** The most CPU and the most wall time any one input took. */
interface Slowest {
  cpuMs: number;
  wallMs: number;
}

/** The check, failing when one input takes more CPU than perInputLimitMs; keeps the most seen. */
function timed<T>(target: FuzzTarget<T>, slowest: Slowest): (input: T) => Promise<void> {
  return async (input) => {
    const start = process.cpuUsage();
    const wallStart = performance.now();
    await target.check(input);
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000;
    slowest.cpuMs = Math.max(slowest.cpuMs, ms);
    slowest.wallMs = Math.max(slowest.wallMs, performance.now() - wallStart);
    assert.ok(ms <= perInputLimitMs, `${target.name}: one input took ${Math.round(ms)} ms of CPU`);
  };
}

export interface TargetResult {
  target: string;
  covers: string;
  inputs: number;
  ms: number;
  /** the most CPU one input took */
  slowestMs: number;
  /** the most wall time one input took (on a shared machine, partly the neighbours' doing) */
  slowestWallMs: number;
  /** rejections by code (an input fed to several parsers may be rejected more than once) */
  rejections: Record<string, number>;
  seed: number;
  /** the (shrunk) failing input, what failed, and the path that replays it with the seed */
  failure?: { input: string; error: string; path: string };
}

/**
 * Feeds a target `runs` inputs (fewer when `seconds` run out first); stops at the first failing
 * input, shrinks it and reports it.
 */
export async function runTarget<T>(
  target: FuzzTarget<T>,
  opts: { runs: number; seconds?: number; seed?: number; path?: string },
): Promise<TargetResult> {
  const start = performance.now();
  const slowest: Slowest = { cpuMs: 0, wallMs: 0 };
  rejections = new Map();
  const details = await fc.check(fc.asyncProperty(target.arbitrary, timed(target, slowest)), {
    numRuns: opts.runs,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.path !== undefined ? { path: opts.path } : {}),
    timeout: stallLimitMs,
    ...(opts.seconds !== undefined
      ? { interruptAfterTimeLimit: opts.seconds * 1000, markInterruptAsFailure: false }
      : {}),
    // a shrink step re-runs the check, so keep shrinking short on slow targets
    endOnFailure: false,
  });
  const result: TargetResult = {
    target: target.name,
    covers: target.covers,
    inputs: details.numRuns,
    ms: Math.round(performance.now() - start),
    slowestMs: Math.round(slowest.cpuMs),
    slowestWallMs: Math.round(slowest.wallMs),
    rejections: Object.fromEntries([...rejections].sort((a, b) => b[1] - a[1])),
    seed: details.seed,
  };
  rejections = undefined;
  if (details.failed && details.counterexample) {
    const error = details.errorInstance;
    result.failure = {
      input: fc.stringify(details.counterexample[0]).slice(0, 4000),
      error: error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error),
      path: details.counterexamplePath ?? '',
    };
  }
  return result;
}

/** For node:test: runs a target and fails the test with the shrunk input when a property fails. */
export async function assertTarget<T>(target: FuzzTarget<T>, runs = target.testRuns): Promise<void> {
  const result = await runTarget(target, { runs });
  if (result.failure) {
    assert.fail(
      `${target.name} failed after ${result.inputs} inputs (seed ${result.seed}, path ${result.failure.path}):\n  input: ${result.failure.input}\n  ${result.failure.error}`,
    );
  }
  assert.equal(result.inputs, runs, `${target.name} ran all its inputs`);
}
