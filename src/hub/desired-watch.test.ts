import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DesiredWatch } from './desired-watch.ts';

test('a change wakes every waiting site, a few dozen per turn of the event loop', async () => {
  const watch = new DesiredWatch();
  const ids = Array.from({ length: 1000 }, (_, i) => `site-${i}`);
  const woken: string[] = [];
  const waits = ids.map((id) =>
    watch.wait(id, 60_000).then((changed) => {
      if (changed) woken.push(id);
    }),
  );
  watch.notify(ids);
  await Promise.resolve();
  assert.ok(woken.length > 0 && woken.length < 1000, `the first turn wakes some, not all: ${woken.length}`);
  await Promise.all(waits);
  assert.deepEqual(woken, ids, 'all of them, in order');
  assert.equal(watch.waiting, 0);
});

test('a wake that arrives after its wait ended does not drop the site’s next wait', async () => {
  const watch = new DesiredWatch();
  const fillers = Array.from({ length: 200 }, (_, i) => `filler-${i}`);
  for (const id of fillers) void watch.wait(id, 60_000);
  const ac = new AbortController();
  const first = watch.wait('late', 60_000, ac.signal);
  watch.notify([...fillers, 'late']); // 'late' is queued behind the fillers, for a later turn
  ac.abort();
  assert.equal(await first, false, 'it ended before its turn');
  const second = watch.wait('late', 60_000);
  await new Promise((r) => setTimeout(r, 20)); // every queued turn has run
  assert.equal(watch.waiting, 1, 'the new wait is still registered');
  watch.notify(['late']);
  assert.equal(await second, true);
});

test('a change announced between reading a site and waiting on it wakes the wait at once', async () => {
  const watch = new DesiredWatch();
  const before = watch.generation; // taken before the read
  watch.notify(['a']); // committed after the read, announced before the wait
  assert.equal(await watch.wait('a', 60_000, undefined, before), true, 'not missed');
  assert.equal(watch.changedSince('b', before), false, 'another site is unaffected');
  const after = watch.generation;
  assert.equal(watch.changedSince('a', after), false, 'a read after the announcement is current');
  const wait = watch.wait('a', 50, undefined, after);
  assert.equal(await wait, false, 'and waits for the next change');
});

test('changes are forgotten only together with the reads they could concern, and a resync forgets all', async () => {
  const watch = new DesiredWatch(undefined, { rememberMs: 20 });
  const old = watch.generation;
  watch.notify(['a']);
  await new Promise((r) => setTimeout(r, 30));
  watch.notify(['b']); // rotation: 'a' moves to the older map
  const mid = watch.generation;
  await new Promise((r) => setTimeout(r, 30));
  watch.notify(['c']); // rotation: 'a' is forgotten
  assert.equal(
    watch.changedSince('a', old),
    true,
    'a read from before the forgotten change counts as changed',
  );
  assert.equal(watch.changedSince('a', mid), false);
  assert.equal(watch.changedSince('b', mid), false, 'b was announced before mid');
  assert.equal(watch.changedSince('c', mid), true);
  const now = watch.generation;
  watch.wakeAll(); // notifications may have been lost: nothing read before is trusted
  assert.equal(watch.changedSince('z', now), true);
  assert.equal(watch.changedSince('z', watch.generation), false);
});
