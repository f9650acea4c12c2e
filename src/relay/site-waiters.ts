// The sites' held desired-state polls at a relay: each waits for its own site, woken when the change
// feed brings that site a new desired state, or when the relay shuts down.

export class SiteWaiters {
  readonly #waiters = new Map<string, Set<() => void>>();
  #closed = false;

  /** Resolves when `siteId` is woken, after `timeoutMs`, or on abort. */
  wait(siteId: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.#waiters.get(siteId) ?? new Set();
      this.#waiters.set(siteId, set);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(siteId) === set) this.#waiters.delete(siteId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
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
