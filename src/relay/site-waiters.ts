// The sites' held desired-state polls at a relay: each waits for its own site, woken when the change
// feed brings that site a new desired state, when its caller goes away, or when the relay shuts down.

import type { EventEmitter } from 'node:events';

export class SiteWaiters {
  readonly #waiters = new Map<string, Set<() => void>>();
  #closed = false;

  /**
   * Resolves when `siteId` is woken, after `timeoutMs`, or when `caller` (the poll's request) emits
   * 'close'. A held poll costs a timer, a listener and one closure: no AbortController, whose abort
   * builds a DOMException with a stack for every poll that ends.
   */
  wait(siteId: string, timeoutMs: number, caller: EventEmitter): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      let held = this.#waiters.get(siteId);
      if (!held) {
        held = new Set();
        this.#waiters.set(siteId, held);
      }
      const polls = held;
      const done = () => {
        clearTimeout(timer);
        caller.removeListener('close', done);
        polls.delete(done);
        if (polls.size === 0 && this.#waiters.get(siteId) === polls) this.#waiters.delete(siteId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      caller.on('close', done);
      polls.add(done);
    });
  }

  wake(siteIds: Iterable<string>): void {
    for (const id of siteIds) for (const done of [...(this.#waiters.get(id) ?? [])]) done();
  }

  get waiting(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }

  close(): void {
    this.#closed = true;
    for (const set of [...this.#waiters.values()]) for (const done of [...set]) done();
  }
}
