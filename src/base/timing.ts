// Waiting, one way for the whole project: jittered exponential backoff (so a fleet that lost its hub
// does not come back in lockstep) and sleeps that end early on abort or on a wake-up.

/** Full-jitter backoff: a random delay in [base·2^attempt / 2, base·2^attempt], capped at max. */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** A sleep that ends early when `signal` aborts or `wake()` is called. */
export class Wakeup {
  #pending: (() => void) | undefined;
  #woken = false;

  wake(): void {
    this.#woken = true;
    this.#pending?.();
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#woken || signal.aborted) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#pending = undefined;
        this.#woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#pending = done;
    });
  }
}

/**
 * Sleeps `ms`, or less when `signal` aborts (it resolves then, it does not throw: a loop that sleeps
 * checks its signal next). Without a signal it is a plain timer that does not hold the process open.
 *
 * @example await sleep(backoffDelay(attempt, 1000, 60_000), signal);
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms).unref());
  return new Wakeup().sleep(ms, signal);
}
