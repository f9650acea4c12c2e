// Forwards telemetry to an external TSDB with Prometheus remote-write 1.0: a WriteRequest protobuf (four
// small messages, written with protobuf's wire-level writer), snappy-compressed, POSTed with retries and
// backoff. Samples wait in a bounded in-memory queue; what does not fit, or a receiver refuses, is dropped
// and counted, never retried forever — the hub's own SLI store does not depend on the forwarder.

import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { sleep } from '../../base/timing.ts';
import type { TelemetryClass, TelemetrySample } from '../../model/telemetry.ts';
import type { HubMetrics } from '../metrics.ts';
import { snappyCompress } from './snappy.ts';

export interface RemoteWriteConfig {
  /** e.g. http://prometheus:9090/api/v1/write */
  url: string;
  /** which classes to forward; SLIs only by default (raw metrics and debug samples when listed) */
  classes?: Exclude<TelemetryClass, 'event'>[];
  flushIntervalMs?: number;
  maxQueuedSamples?: number;
  maxSamplesPerRequest?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
  /** extra headers, e.g. Authorization for a hosted TSDB */
  headers?: Record<string, string>;
}

export interface RemoteSeries {
  /** sorted by name, `__name__` included */
  labels: [string, string][];
  /** [value, Unix ms], oldest first */
  samples: [number, number][];
}

/**
 * Encodes prometheus.WriteRequest { repeated TimeSeries timeseries = 1 }, with TimeSeries { repeated Label
 * labels = 1; repeated Sample samples = 2 }, Label { string name = 1; string value = 2 } and Sample
 * { double value = 1; int64 timestamp = 2 }.
 */
export function encodeWriteRequest(series: readonly RemoteSeries[]): Uint8Array {
  const w = new BinaryWriter();
  for (const s of series) {
    w.tag(1, WireType.LengthDelimited).fork();
    for (const [name, value] of s.labels) {
      w.tag(1, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(name);
      w.tag(2, WireType.LengthDelimited).string(value);
      w.join();
    }
    for (const [value, t] of s.samples) {
      w.tag(2, WireType.LengthDelimited).fork();
      w.tag(1, WireType.Bit64).double(value);
      w.tag(2, WireType.Varint).int64(t);
      w.join();
    }
    w.join();
  }
  return w.finish();
}

/**
 * Groups samples into series: `__name__` is the sample name, then the sample's labels, with `site` and
 * (when set) `bundle` from the hub, which win over sample labels of the same name.
 */
export function toSeries(items: readonly { site: string; sample: TelemetrySample }[]): RemoteSeries[] {
  const bySeries = new Map<string, RemoteSeries>();
  for (const { site, sample } of items) {
    const labels: Record<string, string> = { ...sample.labels, __name__: sample.name, site };
    if (sample.bundle !== undefined) labels.bundle = sample.bundle;
    const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify(sorted);
    let s = bySeries.get(key);
    if (!s) {
      s = { labels: sorted, samples: [] };
      bySeries.set(key, s);
    }
    s.samples.push([sample.v, sample.t]);
  }
  for (const s of bySeries.values()) s.samples.sort((a, b) => a[1] - b[1]);
  return [...bySeries.values()];
}

/** The hub's forwarder: enqueue after ingest; a timer flushes; close() flushes what is left. */
export class RemoteWriter {
  readonly #config: Required<Omit<RemoteWriteConfig, 'headers'>> & { headers: Record<string, string> };
  readonly #metrics: HubMetrics['telemetry'];
  #queue: { site: string; sample: TelemetrySample }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  readonly #closing = new AbortController();

  constructor(config: RemoteWriteConfig, metrics: HubMetrics) {
    this.#config = {
      classes: ['sli'],
      flushIntervalMs: 5_000,
      maxQueuedSamples: 500_000,
      maxSamplesPerRequest: 10_000,
      maxAttempts: 5,
      retryBaseMs: 500,
      headers: {},
      ...config,
    };
    this.#metrics = metrics.telemetry;
  }

  get queued(): number {
    return this.#queue.length;
  }

  enqueue(site: string, samples: readonly TelemetrySample[]): void {
    for (const sample of samples) {
      if (!(this.#config.classes as string[]).includes(sample.class)) continue;
      if (this.#queue.length >= this.#config.maxQueuedSamples) {
        this.#metrics.remoteWrite.inc({ result: 'dropped' });
        continue;
      }
      this.#queue.push({ site, sample });
    }
  }

  start(): void {
    if (this.#closing.signal.aborted || this.#timer) return;
    this.#timer = setInterval(() => void this.flush(), this.#config.flushIntervalMs);
    this.#timer.unref();
  }

  /** Sends everything queued so far (one flush at a time). */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#config.maxSamplesPerRequest);
      const ok = await this.#send(snappyCompress(encodeWriteRequest(toSeries(batch))));
      this.#metrics.remoteWrite.inc({ result: ok ? 'sent' : 'dropped' }, batch.length);
    }
  }

  /** POSTs one request; retries network errors, 5xx and 429 with doubling delays; other answers are final. */
  async #send(body: Uint8Array): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      let retry: boolean;
      try {
        const res = await fetch(this.#config.url, {
          method: 'POST',
          headers: {
            ...this.#config.headers,
            'content-type': 'application/x-protobuf',
            'content-encoding': 'snappy',
            'x-prometheus-remote-write-version': '0.1.0',
            'user-agent': 'outpost-hub',
          },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        if (res.ok) return true;
        retry = res.status >= 500 || res.status === 429;
      } catch {
        retry = true;
      }
      if (!retry || attempt >= this.#config.maxAttempts || this.#closing.signal.aborted) return false;
      // a hub that closes meanwhile cuts the wait short: the next attempt is the last
      await sleep(this.#config.retryBaseMs * 2 ** (attempt - 1), this.#closing.signal);
    }
  }

  /** Stops the timer and sends what is queued, with one attempt per request (a closing hub does not wait on retries). */
  async close(): Promise<void> {
    this.#closing.abort();
    clearInterval(this.#timer);
    await this.flush();
  }
}
