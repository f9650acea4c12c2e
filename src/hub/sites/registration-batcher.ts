// Group commit for registrations: registrations that arrive while a transaction runs wait and then run
// together in one, each inside its own savepoint, so a refused one (a spent token, a taken name) rolls
// back alone; what every registration records alike (aggregates, events) is written once for the group;
// every answer waits for the commit that holds it, then for the group's one placement.

import { sql } from 'kysely';
import type { Db } from '../store/schema.ts';

/**
 * One registration's work inside the group's transaction: `placed` names a site to place after commit,
 * `record` is what the group writes for it once every registration of the group has run.
 */
export type RegistrationWork<T, R> = (tx: Db) => Promise<{ result: T; placed?: string; record: R }>;

interface Pending<R> {
  work: RegistrationWork<unknown, R>;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
}

/** Longest group: bounds how long one transaction holds the store (each registration is ~1 ms of it). */
const maxGroup = 32;

export class RegistrationBatcher<R> {
  readonly #transaction: <T>(work: (tx: Db) => Promise<T>) => Promise<T>;
  readonly #recordGroup: (tx: Db, records: R[]) => Promise<void>;
  readonly #afterCommit: (placed: string[]) => Promise<void>;
  #queue: Pending<R>[] = [];
  #running: Promise<void> | undefined;

  /**
   * `transaction` runs its callback in one store transaction; `recordGroup` runs last in it with the
   * records of the registrations that stood (at least one); `afterCommit` runs once per committed group
   * (the hub notifies the event streams and places the new sites) before any of its answers is given.
   */
  constructor(
    transaction: <T>(work: (tx: Db) => Promise<T>) => Promise<T>,
    recordGroup: (tx: Db, records: R[]) => Promise<void>,
    afterCommit: (placed: string[]) => Promise<void>,
  ) {
    this.#transaction = transaction;
    this.#recordGroup = recordGroup;
    this.#afterCommit = afterCommit;
  }

  /** Resolves with the registration's result once its group has committed and been placed. */
  submit<T>(work: RegistrationWork<T, R>): Promise<T> {
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

  async #runGroup(group: Pending<R>[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const placed: string[] = [];
    const records: R[] = [];
    try {
      await this.#transaction(async (tx) => {
        for (const p of group) {
          await sql`savepoint registration`.execute(tx);
          try {
            const done = await p.work(tx);
            await sql`release savepoint registration`.execute(tx);
            outcomes.push({ ok: true, value: done.result });
            records.push(done.record);
            if (done.placed) placed.push(done.placed);
          } catch (error) {
            await sql`rollback to savepoint registration`.execute(tx);
            await sql`release savepoint registration`.execute(tx);
            outcomes.push({ ok: false, error });
          }
        }
        if (records.length > 0) await this.#recordGroup(tx, records);
      });
      if (records.length > 0) await this.#afterCommit(placed);
    } catch (error) {
      // a failed group record or commit stored none of the group; a failed placement after it fails
      // the group's registrations as it failed a lone one's
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
