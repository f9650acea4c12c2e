// The pace of what every follow session at a site uploads together, so no number of viewers floods a
// store's uplink: each upload waits its turn at a fixed rate of bytes per second.

import { sleep } from '../base/timing.ts';

export class UplinkPace {
  readonly #bytesPerSecond: number;
  /** when the uplink is free of what was let through so far (ms since the epoch) */
  #freeAt = 0;

  constructor(bytesPerSecond: number) {
    this.#bytesPerSecond = bytesPerSecond;
  }

  /**
   * Books `bytes` on the uplink at `now` and says how long to wait before sending them.
   *
   * @example
   * const pace = new UplinkPace(1000);
   * pace.book(500, 0); // 0: the uplink is free
   * pace.book(500, 0); // 500: the first 500 bytes take half a second
   */
  book(bytes: number, now: number): number {
    const start = Math.max(now, this.#freeAt);
    this.#freeAt = start + (bytes * 1000) / this.#bytesPerSecond;
    return start - now;
  }

  /** Waits for the turn of `bytes` (less when `signal` aborts). */
  async take(bytes: number, signal: AbortSignal): Promise<void> {
    const wait = this.book(bytes, Date.now());
    if (wait > 0) await sleep(wait, signal);
  }
}
