// Wakes agents' long-polls when their site's desired state changes. In one hub process an in-memory
// map suffices; replicas on PostgreSQL also relay each change to the others (coordination.ts).

import type { EventEmitter } from 'node:events';
import type { DesiredState } from '../model/wire.ts';

/**
 * A site's new desired state as the change that woke its polls committed it, with that change's
 * generation: what the state is current as of (a later change makes `changedSince` true).
 */
export interface Announced {
  state: DesiredState;
  generation: number;
}

/** How a wait ends: false (timeout, hang-up, shutdown), true (changed) or the state the change announced. */
export type WaitEnd = boolean | Announced;

type Waiter = (end: WaitEnd) => void;

/**
 * Long-polls woken per turn of the event loop. Each woken poll writes its answer (reading the store first
 * unless the change announced its state);
 * waking 10,000 at once would queue 10,000 reads ahead of every report and request that arrives
 * meanwhile. In turns of a few dozen other work keeps its place and the fleet still hears within
 * moments. (The store hands its connection out first come, first served: see store/sqlite.ts.)
 */
const wakePerTurn = 64;

/** How long a change stays remembered for requests that read their site before it (see `generation`). */
const defaultRememberMs = 30_000;

export class DesiredWatch {
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #relay: ((siteIds: readonly string[]) => void) | undefined;
  readonly #listeners = new Set<(siteIds: readonly string[]) => void>();
  #closed = false;
  /** counts wake-ups; each changed site remembers the count of its last one, for a while */
  #generation = 0;
  #recent = new Map<string, number>();
  #older = new Map<string, number>();
  /** changes before this generation are forgotten: anything read before it counts as changed */
  #olderFloor = 0;
  #recentFloor = 0;
  #rotatedAt = Date.now();
  readonly #rememberMs: number;

  /**
   * `relay` also tells other replicas (when several share a PostgreSQL store); a change is remembered
   * for at least `rememberMs` (a read older than that counts as changed).
   */
  constructor(relay?: (siteIds: readonly string[]) => void, opts: { rememberMs?: number } = {}) {
    this.#relay = relay;
    this.#rememberMs = opts.rememberMs ?? defaultRememberMs;
  }

  /**
   * Take it before reading a site's desired state from the store: a change committed after that read
   * is announced after this generation, so changedSince() and wait() see it even though the read missed it.
   */
  get generation(): number {
    return this.#generation;
  }

  /** Whether siteId's desired state may have changed since `generation` (when unsure: true). */
  changedSince(siteId: string, generation: number): boolean {
    if (generation < this.#olderFloor) return true;
    return (this.#recent.get(siteId) ?? -1) > generation || (this.#older.get(siteId) ?? -1) > generation;
  }

  /**
   * Resolves when siteId's desired state changes (at once when it changed since `since`, a generation
   * taken before the caller read it): with the new state when the change announced it, else true; false
   * after `timeoutMs`, when `caller` (the poll's request) emits 'close', or at shutdown. A held poll costs
   * a timer, a listener and a closure: no AbortController, whose abort builds a DOMException.
   */
  wait(siteId: string, timeoutMs: number, since?: number, caller?: EventEmitter): Promise<WaitEnd> {
    if (this.#closed) return Promise.resolve(false);
    if (since !== undefined && this.changedSince(siteId, since)) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.#waiters.get(siteId);
      if (!set) {
        set = new Set();
        this.#waiters.set(siteId, set);
      }
      const waiters = set;
      let finished = false;
      const waiter: Waiter = (end) => {
        // a wake queued by notify may arrive after a timeout; the set may be gone by then
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        caller?.removeListener('close', hungUp);
        waiters.delete(waiter);
        if (waiters.size === 0) this.#waiters.delete(siteId);
        resolve(end);
      };
      const hungUp = () => waiter(false);
      const timer = setTimeout(hungUp, timeoutMs);
      waiters.add(waiter);
      caller?.on('close', hungUp);
    });
  }

  /**
   * Wakes this process's waiters for the sites and relays the change. Call after the commit; `states`
   * are the sites' desired states as committed, handed to their woken polls so that they need not read
   * them back (other replicas are told the sites only, and read).
   */
  notify(siteIds: Iterable<string>, states?: ReadonlyMap<string, DesiredState>): void {
    const ids = [...siteIds];
    this.wake(ids, states);
    if (ids.length > 0) this.#relay?.(ids);
  }

  /**
   * Wakes this process's waiters only (a change another replica made, or `notify`'s): the first few
   * dozen now, the rest in the next turns.
   */
  wake(siteIds: Iterable<string>, states?: ReadonlyMap<string, DesiredState>): void {
    const generation = this.#advance();
    const woken: Array<{ waiter: Waiter; siteId: string; state: DesiredState | undefined }> = [];
    const ids = [...siteIds];
    for (const listener of this.#listeners) listener(ids);
    for (const id of ids) {
      this.#recent.set(id, generation);
      const set = this.#waiters.get(id);
      if (!set) continue;
      const state = states?.get(id);
      for (const waiter of set) woken.push({ waiter, siteId: id, state });
    }
    // a poll whose turn comes after a newer change to its site reads that one rather than hand this out
    const wakeFrom = (start: number) => {
      for (const { waiter, siteId, state } of woken.slice(start, start + wakePerTurn)) {
        waiter(state && !this.changedSince(siteId, generation) ? { state, generation } : true);
      }
      if (start + wakePerTurn < woken.length) setImmediate(() => wakeFrom(start + wakePerTurn));
    };
    wakeFrom(0);
  }

  /** Wakes every waiter to re-read its site (notifications may have been missed): so does every read before. */
  wakeAll(): void {
    this.wake([...this.#waiters.keys()]);
    this.#olderFloor = this.#recentFloor = this.#generation;
    this.#older = new Map();
    this.#recent = new Map();
  }

  /** The next generation; changes older than two rotations are forgotten (two maps, rotated). */
  #advance(): number {
    const now = Date.now();
    if (now - this.#rotatedAt >= this.#rememberMs) {
      this.#older = this.#recent;
      this.#olderFloor = this.#recentFloor;
      this.#recent = new Map();
      this.#recentFloor = this.#generation;
      this.#rotatedAt = now;
    }
    return ++this.#generation;
  }

  /**
   * Calls `listener` with the sites of every change this process hears of (its own or another
   * replica's), for regional relays' change feeds; returns what stops it.
   */
  onChange(listener: (siteIds: readonly string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends every wait (as unchanged) and refuses new ones: the server is shutting down. */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#waiters.values()]) for (const w of [...set]) w(false);
  }

  get waiting(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }
}
