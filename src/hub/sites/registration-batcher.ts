// Group commit for registrations: registrations that arrive while a transaction runs wait and then run
// together in one, each inside its own savepoint, so a refused one (a spent token, a taken name) rolls
// back alone; every answer waits for the commit that holds it, then for the group's one placement.

import { sql } from 'kysely';
import type { Db } from '../store/schema.ts';

/** One registration's work inside the group's transaction; `placed` names a site to place after commit. */
export type RegistrationWork<T> = (tx: Db) => Promise<{ result: T; placed?: string }>;

interface Pending {
  work: RegistrationWork<unknown>;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
}

/** Longest group: bounds how long one transaction holds the store (each registration is ~1 ms of it). */
const maxGroup = 32;

export class RegistrationBatcher {
  readonly #transaction: <T>(work: (tx: Db) => Promise<T>) => Promise<T>;
  readonly #afterCommit: (placed: string[]) => Promise<void>;
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;

  /**
   * `transaction` runs its callback in one store transaction; `afterCommit` runs once per committed group
   * (the hub notifies the event streams and places the new sites) before any of its answers is given.
   */
  constructor(
    transaction: <T>(work: (tx: Db) => Promise<T>) => Promise<T>,
    afterCommit: (placed: string[]) => Promise<void>,
  ) {
    this.#transaction = transaction;
    this.#afterCommit = afterCommit;
  }

  /** Resolves with the registration's result once its group has committed and been placed. */
  submit<T>(work: RegistrationWork<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.#running ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // let the registrations of the same I/O turn join the first group
    await new Promise((r) => setImmediate(r));
    while (this.#queue.length > 0) await this.#runGroup(this.#queue.splice(0, maxGroup));
    this.#running = undefined;
  }

  async #runGroup(group: Pending[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const placed: string[] = [];
    try {
      await this.#transaction(async (tx) => {
        for (const p of group) {
          await sql`savepoint registration`.execute(tx);
          try {
            const done = await p.work(tx);
            await sql`release savepoint registration`.execute(tx);
            outcomes.push({ ok: true, value: done.result });
            if (done.placed) placed.push(done.placed);
          } catch (error) {
            await sql`rollback to savepoint registration`.execute(tx);
            await sql`release savepoint registration`.execute(tx);
            outcomes.push({ ok: false, error });
          }
        }
      });
      if (outcomes.some((o) => o.ok)) await this.#afterCommit(placed);
    } catch (error) {
      // a failed commit stored none of the group; a failed placement after it fails the group's
      // registrations as it failed a lone one's
      for (const p of group) p.reject(error);
      return;
    }
    group.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }
}
