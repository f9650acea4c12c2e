// What the agent knows about reaching its hub: when it last answered (saved now and then, so the local
// page can tell it after a restart while cut off) and the error while it does not answer.

import { backoffDelay } from '../base/timing.ts';
import type { LocalStatus } from './local-page.ts';
import type { LocalState } from './state/local-state.ts';

export interface HubContactOptions {
  /** the hub answers again after failing: whatever waits out a backoff may go now */
  onBack: () => void;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * How long to wait before trying an unreachable hub again: doubling from a second (or half the heartbeat,
 * if shorter) but never past half a heartbeat, so that a site whose link returns is back within one
 * heartbeat, the request that brings it back included.
 *
 * @example hubRetryDelay(10, 30_000) // between 7.5 and 15 seconds
 */
export function hubRetryDelay(failures: number, heartbeatMs: number): number {
  const most = heartbeatMs / 2;
  return backoffDelay(failures, Math.min(1000, most), most);
}

/** How stale the saved time of the last hub contact may get; saving it on every poll would wear flash. */
const contactSaveIntervalMs = 60_000;

export class HubContact {
  readonly #state: LocalState;
  readonly #opts: HubContactOptions;
  #last: Date | undefined;
  #lastSaved = 0;
  #reachedThisRun = false;
  #error: string | undefined;

  private constructor(state: LocalState, last: Date | undefined, opts: HubContactOptions) {
    this.#state = state;
    this.#last = last;
    this.#opts = opts;
  }

  /** Starts from the time of the last contact an earlier run saved. */
  static async open(state: LocalState, opts: HubContactOptions): Promise<HubContact> {
    return new HubContact(state, await state.lastContact(), opts);
  }

  /** The hub answered. */
  reached(): void {
    const wasDown = this.#error !== undefined;
    this.#reachedThisRun = true;
    this.#last = new Date();
    this.#error = undefined;
    if (wasDown) this.#opts.onBack();
    if (this.#last.getTime() - this.#lastSaved >= contactSaveIntervalMs) {
      this.#lastSaved = this.#last.getTime();
      this.#state
        .saveLastContact(this.#last)
        .catch((e: Error) =>
          this.#opts.log?.('could not save the time of the last hub contact', { error: e.message }),
        );
    }
  }

  /** The hub did not answer, or not as it should. */
  failed(error: string): void {
    this.#error = error;
  }

  /** Whether the hub has answered since this process started (an earlier run's contact does not count). */
  get reachedThisRun(): boolean {
    return this.#reachedThisRun;
  }

  status(): LocalStatus['hubContact'] {
    return {
      last: this.#last?.toISOString() ?? null,
      reachable: this.#error === undefined && this.#reachedThisRun,
      error: this.#error ?? null,
    };
  }
}
