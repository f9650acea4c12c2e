// The agent's telemetry, put together: sources (the Prometheus scraper by default; a simulated SLI
// generator in the simulator), Kubernetes events of the bundles' namespaces and the agent's own metrics
// go into the disk buffer; the sender forwards it when the hub is reachable. The latest SLIs and events
// stay in memory for the local page, which works with the hub gone.

import { join } from 'node:path';
import { Wakeup } from '../../base/timing.ts';
import type { TelemetryClass, TelemetryEvent, TelemetrySample } from '../../model/telemetry.ts';
import type { Cluster } from '../apply/cluster.ts';
import { readJson, writeAtomic } from '../state/local-state.ts';
import { type BufferStats, TelemetryBuffer } from './buffer.ts';
import { isTelemetryEvent, isTelemetrySample } from './core/wire-check.ts';
import { watchKubeEvents } from './kube-events.ts';
import { PrometheusSource } from './prometheus-source.ts';
import { type SenderStats, TelemetrySender, type TelemetryUplink } from './sender.ts';
import type { TelemetryBundle, TelemetrySource } from './source.ts';

export interface SiteTelemetryOptions {
  /** the buffer's directory (the agent uses <state>/telemetry) */
  dir: string;
  uplink: TelemetryUplink;
  /** disk budget of the buffer, default 64 MiB */
  budgetBytes?: number;
  segmentBytes?: number;
  /** optional cap on the uplink, compressed bytes per second */
  bandwidthBytesPerSecond?: number;
  /** how often the sender looks for new data (default 30 s; a Kubernetes event sends at once) */
  flushMs?: number;
  /** how often appended data is fsynced (default 10 s): what a power cut may take */
  syncMs?: number;
  /** how often the agent's own metrics are recorded (default 60 s) */
  selfMetricsMs?: number;
  /** sources polled on their interval; default: the Prometheus scraper */
  sources?: TelemetrySource[];
  /** the site's cluster: pods to scrape by annotation, and Kubernetes events of the bundles' namespaces */
  cluster?: Cluster;
  /** forward those Kubernetes events (default true when there is a cluster) */
  events?: boolean;
  /** more of the agent's own metrics (outbox, deployments), read at each recording */
  agentMetrics?: () => Record<string, number>;
  now?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface RecentSli {
  bundle: string;
  name: string;
  t: number;
  v: number;
}

/** What the local page shows and /status.json carries. */
export interface TelemetryStatus {
  buffer: BufferStats;
  sender: SenderStats;
  /**
   * each SLI per bundle over the 15 minutes up to its newest sample (`t`): counts (`*_total`) summed,
   * gauges their latest value
   */
  slis: RecentSli[];
  /** the latest events, newest first */
  events: TelemetryEvent[];
}

const recentEvents = 50;
/** how far back the page's SLIs reach */
const recentSliMs = 15 * 60_000;

export class SiteTelemetry {
  readonly buffer: TelemetryBuffer;
  readonly #sender: TelemetrySender;
  readonly #opts: SiteTelemetryOptions;
  readonly #now: () => number;
  readonly #sources: TelemetrySource[];
  readonly #slis = new Map<string, RecentSli[]>();
  readonly #events: TelemetryEvent[] = [];
  #bundles: TelemetryBundle[] = [];
  #namespaces = new Map<string, string>();
  #eventsAfter: number;

  private constructor(buffer: TelemetryBuffer, opts: SiteTelemetryOptions, eventsAfter: number) {
    this.buffer = buffer;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#sources = opts.sources ?? [new PrometheusSource({ cluster: opts.cluster, log: opts.log })];
    this.#eventsAfter = eventsAfter;
    this.#sender = new TelemetrySender(buffer, opts.uplink, {
      flushMs: opts.flushMs ?? 30_000,
      bandwidthBytesPerSecond: opts.bandwidthBytesPerSecond,
      now: opts.now,
      log: opts.log,
    });
  }

  /** @example const t = await SiteTelemetry.open({ dir: join(stateDir, 'telemetry'), uplink }); void t.run(signal); */
  static async open(opts: SiteTelemetryOptions): Promise<SiteTelemetry> {
    const buffer = await TelemetryBuffer.open(opts.dir, {
      budgetBytes: opts.budgetBytes,
      segmentBytes: opts.segmentBytes,
      now: opts.now,
    });
    const saved = await readJson<{ after: number }>(join(opts.dir, 'events-forwarded.json'));
    const telemetry = new SiteTelemetry(buffer, opts, saved?.after ?? 0);
    // after a restart with the hub still out of reach, the page shows what is waiting to go up
    for (const s of (await buffer.newest('sli', 500)) as TelemetrySample[]) telemetry.#remember(s);
    for (const e of (await buffer.newest('event', recentEvents)) as TelemetryEvent[]) telemetry.#remember(e);
    return telemetry;
  }

  #remember(item: TelemetrySample | TelemetryEvent): void {
    if ('class' in item) {
      if (item.class === 'sli' && item.bundle) {
        const key = `${item.bundle}\u0000${item.name}`;
        const recent = (this.#slis.get(key) ?? []).filter((r) => r.t > item.t - recentSliMs);
        recent.push({ bundle: item.bundle, name: item.name, t: item.t, v: item.v });
        this.#slis.set(key, recent);
      }
    } else {
      this.#events.unshift(item);
      if (this.#events.length > recentEvents) this.#events.pop();
    }
  }

  /** The bundles placed on the site now (from the desired state the agent enforces). */
  setBundles(bundles: readonly TelemetryBundle[]): void {
    this.#bundles = [...bundles];
    const namespaces = new Map<string, string>();
    for (const b of bundles)
      for (const ns of b.namespaces) if (!namespaces.has(ns)) namespaces.set(ns, b.bundle);
    this.#namespaces = namespaces;
  }

  /**
   * Buffers one sample (class from the sample) or event; for sources that push. One that breaks the wire
   * contract is counted as dropped here rather than spoiling a whole batch at the hub.
   */
  async record(item: TelemetrySample | TelemetryEvent): Promise<void> {
    const cls: TelemetryClass = 'class' in item ? item.class : 'event';
    if (!('class' in item ? isTelemetrySample(item) : isTelemetryEvent(item))) {
      const name = 'class' in item ? item.name : item.reason;
      await this.buffer.reject(
        cls,
        `an invalid ${cls} record (${String(name).slice(0, 80)}) was not buffered`,
      );
      return;
    }
    this.#remember(item);
    await this.buffer.append(cls, item);
  }

  /** The hub answers again: send now rather than after the backoff. */
  hubBack(): void {
    this.#sender.hubBack();
  }

  status(): TelemetryStatus {
    return {
      buffer: this.buffer.stats(),
      sender: this.#sender.stats(),
      slis: this.#recentSlis(),
      events: [...this.#events],
    };
  }

  #recentSlis(): RecentSli[] {
    // the window ends at the newest sample, not the wall clock: a site's clock may be off, and an
    // offline page should still show the last quarter hour it measured
    const out: RecentSli[] = [];
    for (const samples of this.#slis.values()) {
      const newest = samples.reduce<RecentSli | undefined>((a, r) => (!a || r.t >= a.t ? r : a), undefined);
      if (!newest) continue;
      const recent = samples.filter((r) => r.t > newest.t - recentSliMs);
      const v = newest.name.endsWith('_total') ? recent.reduce((n, r) => n + r.v, 0) : newest.v;
      out.push({ ...newest, v });
    }
    return out.sort((a, b) => (a.bundle + a.name < b.bundle + b.name ? -1 : 1));
  }

  /** Collects and sends until `signal` aborts, then syncs and closes the buffer. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    const loops = [
      this.#sender.run(signal),
      this.#every(this.#opts.syncMs ?? 10_000, signal, () => this.buffer.sync()),
      this.#every(this.#opts.selfMetricsMs ?? 60_000, signal, () => this.#recordSelf()),
      ...this.#sources.map((s) => this.#every(s.intervalMs, signal, () => this.#poll(s, signal))),
    ];
    if (this.#opts.cluster && this.#opts.events !== false)
      loops.push(this.#watchEvents(this.#opts.cluster, signal));
    await Promise.all(
      loops.map((l) =>
        l.catch((e: unknown) => this.#opts.log?.('telemetry loop stopped', { error: (e as Error).message })),
      ),
    );
    await this.buffer.close().catch(() => undefined);
  }

  async #every(ms: number, signal: AbortSignal, step: () => Promise<void>): Promise<void> {
    const pause = new Wakeup();
    while (!signal.aborted) {
      try {
        await step();
      } catch (e) {
        if (signal.aborted) return;
        this.#opts.log?.('telemetry step failed', { error: (e as Error).message });
      }
      await pause.sleep(ms, signal);
    }
  }

  async #poll(source: TelemetrySource, signal: AbortSignal): Promise<void> {
    const got = await source.collect(this.#now(), this.#bundles, signal);
    for (const s of got.samples) await this.record(s);
    for (const e of got.events) await this.record(e);
    if (got.events.length > 0) this.#sender.wake();
  }

  async #recordSelf(): Promise<void> {
    const t = this.#now();
    const b = this.buffer.stats();
    const s = this.#sender.stats();
    const values: Record<string, number> = {
      outpost_agent_resident_memory_bytes: process.memoryUsage.rss(),
      outpost_agent_telemetry_buffer_bytes: b.bytes,
      outpost_agent_telemetry_batches_sent_total: s.batchesSent,
      outpost_agent_telemetry_sent_bytes_total: s.bytesSent,
      ...this.#opts.agentMetrics?.(),
    };
    for (const [name, v] of Object.entries(values)) await this.record({ class: 'metric', name, t, v });
    for (const cls of ['sli', 'event', 'metric', 'debug'] as const)
      await this.record({
        class: 'metric',
        name: 'outpost_agent_telemetry_dropped_total',
        labels: { class: cls },
        t,
        v: b.dropped[cls],
      });
  }

  async #watchEvents(cluster: Cluster, signal: AbortSignal): Promise<void> {
    let saving = Promise.resolve();
    await watchKubeEvents(
      cluster,
      () => this.#namespaces,
      (event) => {
        saving = saving
          .then(async () => {
            await this.record(event);
            // where a relist after a restart picks up, written once the event is in the buffer
            if (event.t <= this.#eventsAfter) return;
            this.#eventsAfter = event.t;
            await writeAtomic(
              join(this.#opts.dir, 'events-forwarded.json'),
              JSON.stringify({ after: this.#eventsAfter }),
            );
          })
          .catch((e: Error) => this.#opts.log?.('could not buffer a Kubernetes event', { error: e.message }));
        this.#sender.wake();
      },
      { signal, after: this.#eventsAfter, log: this.#opts.log },
    );
    await saving;
  }
}
