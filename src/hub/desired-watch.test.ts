import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { DesiredState } from '../model/wire.ts';
import { DesiredWatch } from './desired-watch.ts';

function stateOf(site: string, digit: string): DesiredState {
  return { site, digest: `sha256:${digit.repeat(64)}`, deployments: [] };
}

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
  const caller = new EventEmitter();
  const first = watch.wait('late', 60_000, undefined, caller);
  watch.notify([...fillers, 'late']); // 'late' is queued behind the fillers, for a later turn
  caller.emit('close');
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
  assert.equal(await watch.wait('a', 60_000, before), true, 'not missed');
  assert.equal(watch.changedSince('b', before), false, 'another site is unaffected');
  const after = watch.generation;
  assert.equal(watch.changedSince('a', after), false, 'a read after the announcement is current');
  const wait = watch.wait('a', 50, after);
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

test('a change that brings its states hands each woken poll its site’s state, current as of the change', async () => {
  const watch = new DesiredWatch();
  const a = watch.wait('a', 60_000);
  const b = watch.wait('b', 60_000);
  const c = watch.wait('c', 60_000);
  const before = watch.generation;
  watch.notify(['a', 'b'], new Map([['a', stateOf('a', '1')]]));
  const woken = await a;
  assert.ok(typeof woken === 'object', 'a gets its state');
  assert.deepEqual(woken.state, stateOf('a', '1'));
  assert.ok(woken.generation > before);
  assert.equal(watch.changedSince('a', woken.generation), false, 'nothing changed since it');
  assert.equal(await b, true, 'b changed, its state not brought: it reads');
  watch.wake(['c']); // another replica's change: sites only
  assert.equal(await c, true);
});

test('a poll whose turn comes after a newer change to its site is not handed the older state', async () => {
  const watch = new DesiredWatch();
  const first = Array.from({ length: 200 }, (_, i) => `first-${i}`);
  const second = Array.from({ length: 300 }, (_, i) => `second-${i}`);
  for (const id of [...first, ...second]) void watch.wait(id, 60_000);
  const late = watch.wait('late', 60_000);
  // 'late' is queued behind the first change's other sites, for a later turn; before that turn another
  // change to it is announced (a replica's: no state), whose own turn for it comes later still
  watch.notify([...first, 'late'], new Map([['late', stateOf('late', '1')]]));
  watch.wake([...second, 'late']);
  assert.equal(await late, true, 'it reads the store');
  const next = watch.wait('late', 60_000);
  watch.notify(['late'], new Map([['late', stateOf('late', '2')]]));
  watch.notify(['late'], new Map([['late', stateOf('late', '3')]]));
  const woken = await next;
  assert.ok(typeof woken === 'object');
  assert.equal(woken.state.digest, stateOf('late', '2').digest, 'the first change woke it');
  assert.equal(watch.changedSince('late', woken.generation), true, 'and says a newer one followed');
});

test('a wait ends as unchanged when its caller hangs up, and leaves no listener behind', async () => {
  const watch = new DesiredWatch();
  const caller = new EventEmitter();
  const wait = watch.wait('a', 60_000, undefined, caller);
  assert.equal(caller.listenerCount('close'), 1);
  caller.emit('close');
  assert.equal(await wait, false);
  assert.equal(watch.waiting, 0);
  const woken = new EventEmitter();
  const again = watch.wait('a', 60_000, undefined, woken);
  watch.notify(['a']);
  assert.equal(await again, true);
  assert.equal(woken.listenerCount('close'), 0, 'a woken wait stops listening');
});
