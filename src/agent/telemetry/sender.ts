// Forwards the telemetry buffer to the hub: one segment per batch, gzipped, highest class first, under an
// optional bandwidth cap. A batch leaves the buffer only on the hub's 2xx acknowledgement; failures back
// off and resend the same batch (same batchId, so the hub ingests it once). A batch the hub calls
// invalid, and that is invalid, is refused for good and counted as dropped, so one bad record cannot
// stop the uplink.

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { backoffDelay, sleep, Wakeup } from '../../base/timing.ts';
import type { TelemetryAck, TelemetryBatch } from '../../model/telemetry.ts';
import { HubError } from '../hub-client.ts';
import type { TelemetryBuffer } from './buffer.ts';
import { TokenBucket } from './core/token-bucket.ts';
import { isTelemetryBatch } from './core/wire-check.ts';

const gzipAsync = promisify(gzip);

/** Where batches go: the hub's telemetry route (HubClient.telemetry), or a test's receiver. */
export interface TelemetryUplink {
  /** throws HubError (with a status) or TransportError when the batch did not arrive */
  send(gzipped: Buffer, signal: AbortSignal): Promise<TelemetryAck>;
}

export interface SenderOptions {
  /** how often an idle sender looks for new data (default 10 s); `wake()` makes it look at once */
  flushMs?: number;
  /** optional cap on the uplink, compressed bytes per second */
  bandwidthBytesPerSecond?: number;
  /** backoff after failures, from base to max (defaults 1 s, 5 min) */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface SenderStats {
  batchesSent: number;
  /** compressed bytes the hub acknowledged */
  bytesSent: number;
  /** uncompressed bytes of the same batches */
  rawBytesSent: number;
  lastSent: string | null;
  lastError: string | null;
  /** batches the hub refused as invalid (their records count as dropped) */
  refused: number;
}

/**
 * Statuses that can say the batch itself is wrong. A 400 counts only when the batch really breaks the
 * contract: a hub that cannot read the request (one older than its telemetry route answers 400 to a
 * gzipped body) must not make the agent throw data away, so that batch waits for a hub that can.
 */
const refusals = new Set([400, 413, 422]);

function refused(e: unknown, wire: TelemetryBatch): boolean {
  if (!(e instanceof HubError) || !refusals.has(e.status)) return false;
  return e.status !== 400 || !isTelemetryBatch(wire);
}

export class TelemetrySender {
  readonly #buffer: TelemetryBuffer;
  readonly #uplink: TelemetryUplink;
  readonly #opts: SenderOptions;
  readonly #now: () => number;
  readonly #bucket: TokenBucket | undefined;
  readonly #idle = new Wakeup();
  readonly #pause = new Wakeup();
  readonly #stats: SenderStats = {
    batchesSent: 0,
    bytesSent: 0,
    rawBytesSent: 0,
    lastSent: null,
    lastError: null,
    refused: 0,
  };

  constructor(buffer: TelemetryBuffer, uplink: TelemetryUplink, opts: SenderOptions = {}) {
    this.#buffer = buffer;
    this.#uplink = uplink;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    const rate = opts.bandwidthBytesPerSecond;
    // a burst of two seconds' worth, at least one full batch, so a cap never stalls a batch forever
    this.#bucket = rate ? new TokenBucket(rate, Math.max(2 * rate, 64 * 1024), this.#now()) : undefined;
  }

  /** New data to send: look now instead of at the next flush. */
  wake(): void {
    this.#idle.wake();
  }

  /** The hub answers again: end a backoff early. */
  hubBack(): void {
    this.#pause.wake();
    this.#idle.wake();
  }

  stats(): SenderStats {
    return { ...this.#stats };
  }

  /** Sends until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const batch = await this.#buffer.next();
      if (!batch) {
        await this.#idle.sleep(this.#opts.flushMs ?? 10_000, signal);
        continue;
      }
      const wire: TelemetryBatch = {
        batchId: batch.batchId,
        samples: batch.samples,
        events: batch.events,
        dropped: batch.dropped,
      };
      const raw = Buffer.from(JSON.stringify(wire));
      const body = await gzipAsync(raw);
      const wait = this.#bucket?.take(body.length, this.#now()) ?? 0;
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted) return;
      try {
        await this.#uplink.send(body, signal);
        await this.#buffer.ack(batch.batchId);
        failures = 0;
        this.#stats.batchesSent++;
        this.#stats.bytesSent += body.length;
        this.#stats.rawBytesSent += raw.length;
        this.#stats.lastSent = new Date(this.#now()).toISOString();
        this.#stats.lastError = null;
      } catch (e) {
        if (signal.aborted) return;
        const message = (e as Error).message;
        if (refused(e, wire)) {
          this.#stats.refused++;
          this.#opts.log?.('the hub refused a telemetry batch; dropping it', {
            batch: batch.batchId,
            message,
          });
          await this.#buffer.refuse(batch.batchId, message);
          continue;
        }
        failures++;
        this.#stats.lastError = message;
        const delay = backoffDelay(
          failures,
          this.#opts.backoffBaseMs ?? 1000,
          this.#opts.backoffMaxMs ?? 300_000,
        );
        this.#opts.log?.('sending telemetry failed; retrying', { error: message, delayMs: delay });
        await this.#pause.sleep(delay, signal);
      }
    }
  }
}
