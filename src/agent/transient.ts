// Failures that pass on their own (a hub or cluster out of reach, overloaded or failing for now) versus
// those that do not, and the agent's one way to wait the former out: jittered backoff until it stops.

import { backoffDelay, Wakeup } from '../base/timing.ts';
import { TransportError } from '../net/http-client.ts';
import { ClusterError } from './apply/cluster.ts';
import { HubError } from './hub-client.ts';

/** A failure worth trying again as it is: the peer did not answer, or said "not now" (429, 5xx). */
export function isTransient(e: unknown): boolean {
  return e instanceof TransportError || ((e instanceof HubError || e instanceof ClusterError) && e.transient);
}

/**
 * Retries `step` with backoff while the failure is transient; rethrows anything else. Undefined once
 * `signal` aborts.
 *
 * @example const ca = await retryTransient('fetching the hub CA', signal, () => fetchPinnedCa(hub, sha));
 */
export async function retryTransient<T>(
  what: string,
  signal: AbortSignal,
  step: () => Promise<T>,
  log: (message: string, fields?: Record<string, unknown>) => void = () => {},
): Promise<T | undefined> {
  const pause = new Wakeup();
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      return await step();
    } catch (e) {
      if (signal.aborted) return undefined;
      if (!isTransient(e)) throw e;
      const delay = backoffDelay(attempt, 1000, 60_000);
      log(`${what} failed; retrying`, { error: (e as Error).message, delayMs: delay });
      await pause.sleep(delay, signal);
    }
  }
  return undefined;
}
