// Forwards telemetry to an external TSDB with Prometheus remote-write 1.0: a WriteRequest protobuf (four
// small messages, written with protobuf's wire-level writer), snappy-compressed, POSTed with retries and
// backoff. Samples wait in a queue in the store, written with the batch they came in, so a hub restart or
// a receiver that is down loses nothing; past the queue's bound the oldest go, and what a receiver
// refuses is dropped — both counted. The hub's own SLI store does not depend on the forwarder.

import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { sleep } from '../../base/timing.ts';
import type { TelemetryClass, TelemetrySample } from '../../model/telemetry.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Db } from '../store/schema.ts';
import { snappyCompress } from './snappy.ts';

export interface RemoteWriteConfig {
  /** e.g. http://prometheus:9090/api/v1/write */
  url: string;
  /** which classes to forward; SLIs only by default (raw metrics and debug samples when listed) */
  classes?: Exclude<TelemetryClass, 'event'>[];
  flushIntervalMs?: number;
  /** past this many queued samples the oldest are dropped */
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

/** Where the queue lives and who may send from it: with replicas, only the leader sends. */
export interface RemoteWriteQueue {
  db: Db;
  leading: () => boolean;
}

type SendResult = 'sent' | 'refused' | 'unreachable';

/** Rows read per pass when gathering one request's samples. */
const rowsPerRead = 1000;

/**
 * The hub's forwarder: ingest enqueues in its own transaction; the leader's timer sends the queue oldest
 * first, and deletes what was sent or refused. Samples a receiver could not take (down, 5xx after every
 * retry) stay queued for the next flush.
 */
export class RemoteWriter {
  readonly #config: Required<Omit<RemoteWriteConfig, 'headers'>> & { headers: Record<string, string> };
  readonly #metrics: HubMetrics['telemetry'];
  readonly #queue: RemoteWriteQueue;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  readonly #closing = new AbortController();

  constructor(config: RemoteWriteConfig, metrics: HubMetrics, queue: RemoteWriteQueue) {
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
    this.#queue = queue;
  }

  /** Samples waiting to be sent. */
  async queued(): Promise<number> {
    const row = await this.#queue.db
      .selectFrom('remote_write_queue')
      .select((eb) => eb.fn.sum<number>('sample_count').as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Queues the forwarded classes of a site's samples, in the caller's transaction. */
  async enqueue(tx: Db, site: string, samples: readonly TelemetrySample[]): Promise<void> {
    const kept = samples.filter((s) => (this.#config.classes as string[]).includes(s.class));
    if (kept.length === 0) return;
    await tx
      .insertInto('remote_write_queue')
      .values({ site, samples: JSON.stringify(kept), sample_count: kept.length })
      .execute();
  }

  start(): void {
    if (this.#closing.signal.aborted || this.#timer) return;
    this.#timer = setInterval(() => void this.flush().catch(() => undefined), this.#config.flushIntervalMs);
    this.#timer.unref();
  }

  /** Sends everything queued so far (one flush at a time; only while this replica leads). */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #drain(): Promise<void> {
    if (!this.#queue.leading()) return;
    await this.#trim();
    while (!this.#closing.signal.aborted) {
      const rows = await this.#queue.db
        .selectFrom('remote_write_queue')
        .select(['id', 'site', 'samples', 'sample_count'])
        .orderBy('id')
        .limit(rowsPerRead)
        .execute();
      if (rows.length === 0) return;
      // one request takes whole rows up to the limit, and always at least one
      let count = 0;
      const taken: typeof rows = [];
      for (const r of rows) {
        if (taken.length > 0 && count + Number(r.sample_count) > this.#config.maxSamplesPerRequest) break;
        taken.push(r);
        count += Number(r.sample_count);
      }
      const batch = taken.flatMap((r) =>
        (JSON.parse(r.samples) as TelemetrySample[]).map((sample) => ({ site: r.site, sample })),
      );
      const result = await this.#send(snappyCompress(encodeWriteRequest(toSeries(batch))));
      if (result === 'unreachable') return;
      await this.#queue.db
        .deleteFrom('remote_write_queue')
        .where(
          'id',
          'in',
          taken.map((r) => r.id),
        )
        .execute();
      this.#metrics.remoteWrite.inc({ result: result === 'sent' ? 'sent' : 'dropped' }, count);
    }
  }

  /** Drops the oldest rows while the queue holds more samples than its bound. */
  async #trim(): Promise<void> {
    let excess = (await this.queued()) - this.#config.maxQueuedSamples;
    if (excess <= 0) return;
    const rows = await this.#queue.db
      .selectFrom('remote_write_queue')
      .select(['id', 'sample_count'])
      .orderBy('id')
      .execute();
    const dropped: number[] = [];
    let samples = 0;
    for (const r of rows) {
      if (excess <= 0) break;
      dropped.push(r.id);
      excess -= Number(r.sample_count);
      samples += Number(r.sample_count);
    }
    for (let i = 0; i < dropped.length; i += 500) {
      await this.#queue.db
        .deleteFrom('remote_write_queue')
        .where('id', 'in', dropped.slice(i, i + 500))
        .execute();
    }
    this.#metrics.remoteWrite.inc({ result: 'dropped' }, samples);
  }

  /** POSTs one request; retries network errors, 5xx and 429 with doubling delays; other answers are final. */
  async #send(body: Uint8Array): Promise<SendResult> {
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
        if (res.ok) return 'sent';
        retry = res.status >= 500 || res.status === 429;
      } catch {
        retry = true;
      }
      if (!retry) return 'refused';
      if (attempt >= this.#config.maxAttempts || this.#closing.signal.aborted) return 'unreachable';
      // a hub that closes meanwhile cuts the wait short; what was not sent stays queued
      await sleep(this.#config.retryBaseMs * 2 ** (attempt - 1), this.#closing.signal);
    }
  }

  /** Stops the timer and waits for a flush in flight; what is queued stays for the next start. */
  async close(): Promise<void> {
    this.#closing.abort();
    clearInterval(this.#timer);
    await this.#flushing?.catch(() => undefined);
  }
}
