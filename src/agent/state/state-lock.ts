// One agent at a time per state directory. During an in-cluster upgrade the new pod starts beside the
// old one on the same volume; this lease keeps the new one waiting until the old one hands over, and
// keeps two agents started by mistake on one folder from both writing it. A lease (renewed, taken over
// once stale) rather than flock, because the holder may be in another pod's PID namespace.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readJson, writeAtomic } from './local-state.ts';

interface Holder {
  id: string;
  version: string;
  host: string;
  pid: number;
  /** ISO time of the last renewal */
  renewedAt: string;
}

/** An agent waiting for the lock asks for it, saying which version it is. */
export interface HandoverRequest {
  id: string;
  version: string;
}

export interface StateLockOptions {
  stateDir: string;
  version: string;
  /** a holder that has not renewed for this long is gone (default 20 s) */
  staleMs?: number;
  now?: () => number;
}

/** the lock's folder in the state directory (a factory reset leaves it to its holder) */
export const stateLockDir = 'lock';

export class StateLock {
  readonly #dir: string;
  readonly #opts: StateLockOptions;
  readonly #id = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  readonly #now: () => number;
  #held = false;

  constructor(opts: StateLockOptions) {
    this.#opts = opts;
    this.#dir = join(opts.stateDir, stateLockDir);
    this.#now = opts.now ?? Date.now;
  }

  get held(): boolean {
    return this.#held;
  }

  /** Takes the lock if free (or its holder is gone); false while another live agent holds it. */
  async tryAcquire(): Promise<boolean> {
    await mkdir(this.#opts.stateDir, { recursive: true, mode: 0o700 });
    try {
      await mkdir(this.#dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = await readJson<Holder>(join(this.#dir, 'holder.json')).catch(() => undefined);
      if (holder ? !this.#gone(holder) : await this.#justTaken()) return false;
      // Only one taker wins the rename of a stale lock; the loser finds the folder gone and tries again.
      const stale = `${this.#dir}.stale-${randomBytes(4).toString('hex')}`;
      try {
        await rename(this.#dir, stale);
      } catch {
        return false;
      }
      await rm(stale, { recursive: true, force: true });
      return this.tryAcquire();
    }
    this.#held = true;
    await this.renew();
    await rm(join(this.#dir, 'request.json'), { force: true });
    return true;
  }

  /** A lock folder without its holder file yet: another agent is between taking it and saying so. */
  async #justTaken(): Promise<boolean> {
    const taken = await stat(this.#dir).catch(() => undefined);
    return taken !== undefined && this.#now() - taken.mtimeMs < (this.#opts.staleMs ?? 20_000);
  }

  #gone(holder: Holder): boolean {
    if (this.#now() - Date.parse(holder.renewedAt) > (this.#opts.staleMs ?? 20_000)) return true;
    // on this host a dead process is gone at once; in another pod only the lease tells
    if (holder.host === hostname() && holder.pid !== process.pid) {
      try {
        process.kill(holder.pid, 0);
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }
    return false;
  }

  /** Keeps the lease fresh; call well within the stale time. */
  async renew(): Promise<void> {
    if (!this.#held) return;
    const holder: Holder = {
      id: this.#id,
      version: this.#opts.version,
      host: hostname(),
      pid: process.pid,
      renewedAt: new Date(this.#now()).toISOString(),
    };
    await writeAtomic(join(this.#dir, 'holder.json'), JSON.stringify(holder));
  }

  /**
   * Asks the holder to hand over (a new version waiting to take its place). Never makes the lock folder:
   * one holding only a request would look just taken to the next tryAcquire. No folder, or one released
   * while writing, means the lock is free, and the caller's next tryAcquire takes it.
   */
  async request(): Promise<void> {
    try {
      await writeAtomic(
        join(this.#dir, 'request.json'),
        JSON.stringify({ id: this.#id, version: this.#opts.version }),
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** The request of an agent waiting for the lock, if any. */
  async pendingRequest(): Promise<HandoverRequest | undefined> {
    return readJson<HandoverRequest>(join(this.#dir, 'request.json')).catch(() => undefined);
  }

  /** Gives the lock up, if this agent holds it. */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    const holder = await readJson<Holder>(join(this.#dir, 'holder.json')).catch(() => undefined);
    if (holder?.id !== this.#id) return;
    // Moved aside first: a waiting agent may be writing its request into the folder, which would make
    // removing it in place fail (ENOTEMPTY); once moved, its write finds no folder and it simply retries.
    const released = `${this.#dir}.released-${randomBytes(4).toString('hex')}`;
    await rename(this.#dir, released);
    await rm(released, { recursive: true, force: true });
  }
}
