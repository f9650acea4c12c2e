// What changed for the relays' change feeds in this hub process: the sites each announced change named,
// numbered, and per relay what it was last told, so that a relay asking with its last answer's cursor
// learns only what changed since; any cursor this process cannot vouch for is answered in full.

import { randomUUID } from 'node:crypto';

export interface FeedLogOptions {
  /** the clock (ms) */
  now?: () => number;
  /**
   * a relay is answered in full again once its last full answer is this old and nothing else is to be
   * told (at five times it, regardless): the few changes no notification announces (an approval that
   * placed nothing, a renewed certificate, an expiry) reach it within this bound while it is quiet
   * (default 60 s, as long as remembered certificates are trusted: certificate-sites.ts)
   */
  fullEveryMs?: number;
  /** changes are kept this long, and this many sites at most; a cursor older than the oldest kept is answered in full */
  keepMs?: number;
  keepIds?: number;
}

/** One announced change: the version it made and its sites; `identity` when what they are to agents changed. */
interface Change {
  version: number;
  at: number;
  ids: readonly string[];
  identity: boolean;
}

/** What this process told one relay: the version of its last answer and the sites it may hold since. */
interface Told {
  version: number;
  fullAt: number;
  /** sites the relay was told are in its scope and not told since to drop */
  holds: Set<string>;
}

/** The sites to read again for a relay's delta, and those it holds now (before this answer). */
export interface SinceCursor {
  /** the version of the relay's cursor */
  from: number;
  /** the version the answer brings it to */
  version: number;
  /** sites whose feed entry may have changed for this relay: re-read, then sent or dropped */
  changed: string[];
  holds: ReadonlySet<string>;
  /** the relay's last full answer is older than `fullEveryMs`: a delta with nothing in it is given in full */
  fullDue: boolean;
}

export class FeedLog {
  readonly #instance = randomUUID().slice(0, 8);
  readonly #now: () => number;
  readonly #fullEveryMs: number;
  readonly #keepMs: number;
  readonly #keepIds: number;
  #version = 0;
  /** versions at or below this one are no longer kept: a cursor there cannot be answered by a delta */
  #floor = 0;
  #changes: Change[] = [];
  #keptIds = 0;
  readonly #told = new Map<string, Told>();
  readonly #listeners = new Set<(change: Change | undefined) => void>();

  constructor(opts: FeedLogOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#fullEveryMs = opts.fullEveryMs ?? 60_000;
    this.#keepMs = opts.keepMs ?? 300_000;
    this.#keepIds = opts.keepIds ?? 1_000_000;
  }

  /** The current version: take it before reading the store for an answer. */
  get version(): number {
    return this.#version;
  }

  /** Sites' desired state or waiting operations changed (after the commit). */
  desiredChanged(siteIds: readonly string[]): void {
    this.#append(siteIds, false);
  }

  /** What sites are to their agents changed (labels, lifecycle, certificates): they may enter or leave a scope. */
  identityChanged(siteIds: readonly string[]): void {
    this.#append(siteIds, true);
  }

  /** Changes may have been missed (another replica's notifications were lost): every relay is answered in full next. */
  forgetAll(): void {
    this.#told.clear();
    this.#floor = this.#version;
    this.#changes = [];
    this.#keptIds = 0;
    this.#wake(undefined);
  }

  /**
   * What `relayId` must be told since `cursor`, when it is the cursor of the last answer this process
   * gave it, its last full answer is not long overdue and the changes since are kept; otherwise
   * undefined: answer in full. Desired-state changes count for the sites the relay holds only (one cannot bring a site
   * into a scope); identity changes count for every site.
   */
  since(relayId: string, cursor: string | undefined): SinceCursor | undefined {
    const told = this.#told.get(relayId);
    const version = told && cursor === this.#cursor(told.version) ? told.version : undefined;
    if (version === undefined || version < this.#floor) return undefined;
    const age = this.#now() - told!.fullAt;
    if (age > 5 * this.#fullEveryMs) return undefined;
    const changed = new Set<string>();
    for (let i = this.#changes.length - 1; i >= 0 && this.#changes[i]!.version > version; i--) {
      const change = this.#changes[i]!;
      for (const id of change.ids) if (change.identity || told!.holds.has(id)) changed.add(id);
    }
    return {
      from: version,
      version: this.#version,
      changed: [...changed],
      holds: told!.holds,
      fullDue: age > this.#fullEveryMs,
    };
  }

  /** A full answer read after `version` was taken lists `siteIds`: its cursor. */
  answeredInFull(relayId: string, version: number, siteIds: readonly string[]): string {
    this.#told.set(relayId, { version, fullAt: this.#now(), holds: new Set(siteIds) });
    return this.#cursor(version);
  }

  /**
   * A delta answer for the relay's cursor at `from` (`since()` gave it `version`) told it of `inScope`
   * and to drop `removed`: its cursor.
   */
  answeredDelta(
    relayId: string,
    from: number,
    version: number,
    inScope: readonly string[],
    removed: readonly string[],
  ): string {
    const told = this.#told.get(relayId);
    // another answer given meanwhile (the relay asked twice) moved on: this one's cursor is answered in full
    if (told?.version !== from) return this.#cursor(-1);
    for (const id of inScope) told.holds.add(id);
    for (const id of removed) told.holds.delete(id);
    told.version = version;
    return this.#cursor(version);
  }

  /**
   * Resolves true when a change that may concern the relay is announced after `version` (a site it
   * holds, or any identity change), false after `waitMs` or on abort.
   */
  wait(relayId: string, version: number, waitMs: number, signal: AbortSignal): Promise<boolean> {
    const concerns = (change: Change | undefined) => {
      const holds = this.#told.get(relayId)?.holds;
      if (!change || !holds || version < this.#floor) return true;
      return change.identity || change.ids.some((id) => holds.has(id));
    };
    for (let i = this.#changes.length - 1; i >= 0 && this.#changes[i]!.version > version; i--) {
      if (concerns(this.#changes[i])) return Promise.resolve(true);
    }
    if (version < this.#floor || !this.#told.has(relayId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (changed: boolean) => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        signal.removeEventListener('abort', onAbort);
        resolve(changed);
      };
      // each change is looked at once, as it is announced
      const listener = (change: Change | undefined) => {
        if (concerns(change)) finish(true);
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), waitMs);
      this.#listeners.add(listener);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #cursor(version: number): string {
    return `${this.#instance}.${version}`;
  }

  #append(siteIds: readonly string[], identity: boolean): void {
    if (siteIds.length === 0) return;
    const at = this.#now();
    const change = { version: ++this.#version, at, ids: siteIds, identity };
    this.#changes.push(change);
    this.#keptIds += siteIds.length;
    let drop = 0;
    while (
      drop < this.#changes.length - 1 &&
      (this.#keptIds > this.#keepIds || at - this.#changes[drop]!.at > this.#keepMs)
    ) {
      this.#keptIds -= this.#changes[drop]!.ids.length;
      this.#floor = this.#changes[drop]!.version;
      drop++;
    }
    if (drop > 0) this.#changes = this.#changes.slice(drop);
    this.#wake(change);
  }

  /** Tells the held feeds of `change` (undefined: everything may have changed). */
  #wake(change: Change | undefined): void {
    for (const listener of [...this.#listeners]) listener(change);
  }
}
