// A job the hub runs again and again on one owned timer: the next run is scheduled only once the last
// one finished, a failed run is reported and the next one goes ahead, and close() waits for a run in flight.

export class Periodic {
  readonly #run: () => Promise<unknown>;
  readonly #intervalMs: () => number;
  readonly #onError: (e: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  /**
   * @example new Periodic(() => sweepConnectivity(ctx), () => ctx.config.connectivity.sweepIntervalMs, log).start()
   */
  constructor(run: () => Promise<unknown>, intervalMs: () => number, onError: (e: unknown) => void) {
    this.#run = run;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  start(): void {
    if (this.#closed || this.#timer) return;
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#run()
        .then(() => undefined, this.#onError)
        .finally(() => this.#schedule(this.#intervalMs()));
    }, delayMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a run in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
