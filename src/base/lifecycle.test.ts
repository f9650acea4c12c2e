import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DisposableStore } from './lifecycle.ts';

describe('DisposableStore', () => {
  test('ends what it owns last created first, each after the one before has finished', async () => {
    const store = new DisposableStore();
    const log: string[] = [];
    store.add({
      async close() {
        log.push('store closed');
      },
    });
    store.add(() => log.push('listener removed'));
    store.add({
      async close() {
        await new Promise((resolve) => setTimeout(resolve, 20));
        log.push('timer stopped');
      },
    });
    await store.dispose();
    assert.deepEqual(log, ['timer stopped', 'listener removed', 'store closed']);
  });

  test('add hands the item back, so it is owned where it is made', () => {
    const store = new DisposableStore();
    const pool = { close() {} };
    assert.equal(store.add(pool), pool);
  });

  test('one failure does not stop the rest, and is thrown as it is', async () => {
    const store = new DisposableStore();
    const closed: string[] = [];
    const boom = new Error('pool would not close');
    store.add(() => closed.push('first'));
    store.add(() => {
      throw boom;
    });
    store.add(() => closed.push('last'));
    await assert.rejects(store.dispose(), (e) => e === boom);
    assert.deepEqual(closed, ['last', 'first']);
  });

  test('several failures are thrown together, in the order they happened', async () => {
    const store = new DisposableStore();
    store.add(async () => {
      throw new Error('a');
    });
    store.add(() => {
      throw new Error('b');
    });
    await assert.rejects(store.dispose(), (e) => {
      assert.ok(e instanceof AggregateError);
      assert.deepEqual(
        e.errors.map((x: Error) => x.message),
        ['b', 'a'],
      );
      return true;
    });
  });

  test('disposing twice, or twice at once, ends everything once', async () => {
    const store = new DisposableStore();
    let closes = 0;
    store.add({
      async close() {
        await new Promise((resolve) => setTimeout(resolve, 10));
        closes++;
      },
    });
    await Promise.all([store.dispose(), store.dispose()]);
    await store.dispose();
    assert.equal(closes, 1);
  });

  test('a disposed store refuses new items instead of leaking them', async () => {
    const store = new DisposableStore();
    await store.dispose();
    assert.throws(() => store.add(() => {}), /disposed store/);
  });
});
