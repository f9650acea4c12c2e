import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withApplyDefaults } from '../../model/apply-options.ts';
import { assess, type ObjectHealth, type ProgressInput } from './progress.ts';

const newDigest = `sha256:${'2'.repeat(64)}`;
const goodDigest = `sha256:${'1'.repeat(64)}`;

const ready = (name: string): ObjectHealth => ({
  key: name,
  object: `Deployment shop/${name}`,
  ready: true,
  reason: 'ready',
  drift: [],
});
const waiting = (name: string, reason = '0 of 1 replicas available'): ObjectHealth => ({
  ...ready(name),
  ready: false,
  reason,
});

function input(over: Partial<ProgressInput> = {}): ProgressInput {
  return {
    options: withApplyDefaults(undefined),
    digest: newDigest,
    objects: [ready('web')],
    now: 1_000_000,
    ...over,
  };
}

describe('pessimistic readiness (the default)', () => {
  test('Ready once every object is ready, and the revision becomes the last-known-good', () => {
    assert.deepEqual(assess(input()), { state: 'Ready', message: '', correct: [], good: true });
  });

  test('NotReady, naming the first object that is not, while the deadline has not passed', () => {
    const a = assess(
      input({ objects: [ready('db'), waiting('web')], progressingSince: 1_000_000 - 599_000 }),
    );
    assert.equal(a.state, 'NotReady');
    assert.equal(a.message, 'Deployment shop/web: 0 of 1 replicas available');
    assert.equal(a.good, false);
    assert.equal(a.rollbackTo, undefined);
  });

  test('a missed deadline fails the revision and rolls back to the last-known-good', () => {
    const a = assess(
      input({ objects: [waiting('web')], progressingSince: 1_000_000 - 601_000, lastKnownGood: goodDigest }),
    );
    assert.equal(a.state, 'Failed');
    assert.equal(a.rollbackTo, goodDigest);
    assert.equal(
      a.missedDeadline,
      'progress deadline exceeded after 600s (Deployment shop/web: 0 of 1 replicas available)',
    );
    assert.equal(
      a.message,
      `progress deadline exceeded after 600s (Deployment shop/web: 0 of 1 replicas available); rolled back to ${goodDigest}`,
    );
  });

  test('without rollback, or with nothing ready before, a missed deadline fails and says why it stays', () => {
    const late = { objects: [waiting('web')], progressingSince: 0 };
    const off = assess(
      input({ ...late, lastKnownGood: goodDigest, options: withApplyDefaults({ rollback: false }) }),
    );
    assert.equal(off.rollbackTo, undefined);
    assert.match(off.message, /not rolled back: rollback is off$/);
    const first = assess(input(late));
    assert.equal(first.rollbackTo, undefined);
    assert.match(first.message, /not rolled back: no earlier revision was ready here$/);
  });

  test('a revision that was Ready once has no deadline: later trouble is NotReady, never a rollback', () => {
    const a = assess(input({ objects: [waiting('web')], lastKnownGood: goodDigest }));
    assert.equal(a.state, 'NotReady');
    assert.equal(a.rollbackTo, undefined);
  });

  test('an object that will not become ready fails the bundle before the deadline', () => {
    const a = assess(
      input({
        objects: [{ ...waiting('job', 'BackoffLimitExceeded'), failed: true }],
        progressingSince: 999_000,
      }),
    );
    assert.deepEqual([a.state, a.message], ['Failed', 'Deployment shop/job: BackoffLimitExceeded']);
  });
});

describe('optimistic readiness', () => {
  const options = withApplyDefaults({ readiness: 'Optimistic' });

  test('applied is done: Ready even while objects are not, and no deadline applies', () => {
    const a = assess(
      input({ options, objects: [waiting('web')], progressingSince: 0, lastKnownGood: goodDigest }),
    );
    assert.deepEqual(a, { state: 'Ready', message: '', correct: [], good: true });
  });
});

describe('drift', () => {
  const drifted: ObjectHealth = {
    ...ready('web'),
    drift: [
      { path: 'spec.replicas', want: '2', got: '5' },
      { path: 'metadata.labels.tier', want: '"front"', got: 'absent' },
    ],
  };

  test('is reported as Drifted with the first field and a count, and corrected by default', () => {
    const a = assess(input({ objects: [drifted, ready('db')] }));
    assert.equal(a.state, 'Drifted');
    assert.equal(a.message, 'drifted: Deployment shop/web spec.replicas (want 2, got 5) and 1 more field(s)');
    assert.deepEqual(a.correct, ['web']);
    assert.equal(a.good, false);
  });

  test('is left alone when the bundle turns correction off', () => {
    const a = assess(input({ objects: [drifted], options: withApplyDefaults({ correctDrift: false }) }));
    assert.deepEqual([a.state, a.correct], ['Drifted', []]);
  });

  test('a deleted object reads as deleted', () => {
    const gone = { ...ready('web'), ready: false, drift: [{ path: '', want: 'present', got: 'absent' }] };
    assert.equal(assess(input({ objects: [gone] })).message, 'drifted: Deployment shop/web was deleted');
  });
});

test('after a rollback the site keeps reporting the failed revision as Failed, with the rollback', () => {
  const a = assess(
    input({ rolledBack: { to: goodDigest, message: 'progress deadline exceeded; rolled back' } }),
  );
  assert.deepEqual(
    [a.state, a.message, a.good],
    ['Failed', 'progress deadline exceeded; rolled back', false],
  );
});
