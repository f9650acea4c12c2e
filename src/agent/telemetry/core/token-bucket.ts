// A bandwidth cap for the telemetry uplink: a token bucket in bytes, with the clock passed in. A batch
// larger than the bucket still goes, after waiting for as many seconds as it needs at the rate.

export class TokenBucket {
  readonly #rate: number;
  readonly #capacity: number;
  #tokens: number;
  #at: number;

  /**
   * @example const cap = new TokenBucket(50_000, 100_000, Date.now()); await sleep(cap.take(bytes, Date.now()));
   * @param bytesPerSecond the long-run rate
   * @param burstBytes what may go at once after a quiet spell
   */
  constructor(bytesPerSecond: number, burstBytes: number, now: number) {
    if (!(bytesPerSecond > 0)) throw new Error('the bandwidth cap is a positive number of bytes per second');
    this.#rate = bytesPerSecond;
    this.#capacity = Math.max(burstBytes, 1);
    this.#tokens = this.#capacity;
    this.#at = now;
  }

  /** Takes `bytes` and returns how many milliseconds to wait before sending them (0: at once). */
  take(bytes: number, now: number): number {
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = now;
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000);
  }
}
