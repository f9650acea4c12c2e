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
