import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FeedLog } from './feed-log.ts';

const never = new AbortController().signal;

function fullAnswer(log: FeedLog, relayId: string, siteIds: string[]): string {
  return log.answeredInFull(relayId, log.version, siteIds);
}

test('changes to sites the relay holds and identity changes count; others’ desired states do not', () => {
  const log = new FeedLog();
  const cursor = fullAnswer(log, 'r', ['a', 'b']);
  log.desiredChanged(['a', 'x']);
  log.identityChanged(['y']);
  assert.deepEqual(log.since('r', cursor)?.changed.sort(), ['a', 'y']);
});

test('a cursor is vouched for only while it is the relay’s last answer’s', () => {
  const log = new FeedLog();
  const cursor = fullAnswer(log, 'r', ['a']);
  log.desiredChanged(['a']);
  const since = log.since('r', cursor)!;
  const next = log.answeredDelta('r', since.from, since.version, ['a'], []);
  assert.equal(log.since('r', cursor), undefined, 'the earlier cursor');
  assert.ok(log.since('r', next));
  assert.equal(log.since('other', next), undefined, 'another relay');
  // two answers computed from one cursor: the second is superseded and its cursor answered in full
  log.desiredChanged(['a']);
  const twice = log.since('r', next)!;
  log.answeredDelta('r', twice.from, twice.version, ['a'], []);
  const superseded = log.answeredDelta('r', twice.from, twice.version, ['a'], []);
  assert.equal(log.since('r', superseded), undefined);
});

test('a removal leaves what the relay holds: its later desired changes no longer count', () => {
  const log = new FeedLog();
  let cursor = fullAnswer(log, 'r', ['a', 'b']);
  log.identityChanged(['b']);
  const since = log.since('r', cursor)!;
  cursor = log.answeredDelta('r', since.from, since.version, [], ['b']);
  log.desiredChanged(['b']);
  assert.deepEqual(log.since('r', cursor)?.changed, []);
});

test('a cursor older than the changes kept, or than the last full answer’s bound, is answered in full', () => {
  let now = 0;
  const log = new FeedLog({ now: () => now, keepIds: 3, fullEveryMs: 60_000 });
  const cursor = fullAnswer(log, 'r', ['a']);
  log.desiredChanged(['a', 'b']);
  assert.equal(log.since('r', cursor)?.fullDue, false);
  log.desiredChanged(['c', 'd']);
  assert.equal(log.since('r', cursor), undefined, 'the changes since were trimmed');
  const fresh = fullAnswer(log, 'r', ['a']);
  now = 60_001;
  assert.equal(log.since('r', fresh)?.fullDue, true, 'due: given in full once nothing else is to be told');
  now = 300_001;
  assert.equal(log.since('r', fresh), undefined, 'long overdue');
});

test('after missed notifications every relay is answered in full', () => {
  const log = new FeedLog();
  const cursor = fullAnswer(log, 'r', ['a']);
  log.forgetAll();
  assert.equal(log.since('r', cursor), undefined);
});

test('a held feed wakes for a change that concerns it, not for another relay’s sites', async () => {
  const log = new FeedLog();
  fullAnswer(log, 'r', ['a']);
  const version = log.version;
  let woken: boolean | undefined;
  const held = log.wait('r', version, 5_000, never).then((w) => {
    woken = w;
  });
  log.desiredChanged(['x']);
  await new Promise((r) => setImmediate(r));
  assert.equal(woken, undefined, 'another relay’s site');
  log.desiredChanged(['a']);
  await held;
  assert.equal(woken, true);
  assert.equal(await log.wait('r', version, 5_000, never), true, 'a change already made answers at once');
  const ended = new AbortController();
  const aborted = log.wait('r', log.version, 5_000, ended.signal);
  ended.abort();
  assert.equal(await aborted, false);
});
