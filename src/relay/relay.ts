// A regional relay: near a region's sites, it holds their long-polls and serves their desired states and
// blobs from its cache on disk, learns of changes through one change feed to the hub, and sends what the
// sites report up in batches from a durable outbox (a report repeating the site's last is kept back). This
// class builds those parts and stops them on one signal.

import { mkdir } from 'node:fs/promises';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { backoffDelay, Wakeup } from '../base/timing.ts';
import { WorkSignal } from '../hub/operations/work-signal.ts';
import type { RelayStatus } from '../model/relay-wire.ts';
import type { Report } from '../model/wire.ts';
import { sha256Digest } from '../render/digest.ts';
import { RelayCache } from './cache.ts';
import { ForwardedReports, reportContentText } from './core/report-forwarding.ts';
import { type OutboxKind, RelayOutbox } from './outbox.ts';
import { type RelayIdentity, relayIdentity, relayRenewalDue, renewRelayIdentity } from './relay-identity.ts';
import { buildSiteApi } from './site-api.ts';
import { SiteWaiters } from './site-waiters.ts';
import { Uplink } from './uplink.ts';

export interface RelayOptions {
  /** from `outpost relay create`: needed until the relay has enrolled */
  joinToken?: string;
  /** the hub's URL as the relay reaches it (default: the one in the join token) */
  hub?: string;
  stateDir: string;
  /** host:port agents connect to */
  listen: string;
  /** host names and addresses agents reach the relay by (its serving certificate's names) */
  names?: string[];
  /** longest a site's desired-state poll is held (default 50 s) */
  maxWaitSeconds?: number;
  /** longest the hub holds the change feed (default 50 s) */
  feedWaitSeconds?: number;
  /** how often a batch of reports goes up (default 1 s) */
  batchIntervalMs?: number;
  /** the outbox's byte budget; past it the oldest items are dropped and counted (default 256 MiB) */
  outboxBudgetBytes?: number;
  /**
   * a site's report that repeats the last one forwarded goes up anyway once that one is this old
   * (default 300 s, as the kubelet refreshes its node status; 0: every report goes up)
   */
  reportRefreshSeconds?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** A site counts as connected this long after its agent last called. */
const connectedForMs = 120_000;

export class Relay {
  readonly #opts: RelayOptions;
  #server: FastifyInstance | undefined;
  #outbox: RelayOutbox | undefined;
  #uplink: Uplink | undefined;
  #url: string | undefined;
  /** when each site's agent last called: one entry per site, updated in place */
  readonly #lastCall = new Map<string, number>();
  /** the sites first heard since the last batch took them, each once (not a set made anew each batch) */
  #seenSinceBatch: string[] = [];
  #seenTakenAt = 0;
  readonly #reports: ForwardedReports;
  /** group commit: what sites sent in one turn goes to disk in one transaction */
  #toKeep: {
    siteId: string;
    kind: OutboxKind;
    body: string;
    /** a report's seq and content digest, remembered once it is on disk */
    report?: { seq: number; content: string };
    done: (e?: unknown) => void;
  }[] = [];

  constructor(opts: RelayOptions) {
    this.#opts = opts;
    this.#reports = new ForwardedReports((opts.reportRefreshSeconds ?? 300) * 1000);
  }

  /** The URL agents reach the relay at, once it listens. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const opts = this.#opts;
    await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    const [host, port] = splitHostPort(opts.listen);
    const names = [...new Set(['localhost', '127.0.0.1', host, ...(opts.names ?? [])])].filter(
      (n) => n !== '0.0.0.0',
    );
    const identity = await relayIdentity(opts.stateDir, opts.joinToken, names, opts.hub);
    const cache = await RelayCache.open(opts.stateDir, opts.log);
    const outbox = new RelayOutbox(opts.stateDir, opts.outboxBudgetBytes ?? 256 * 1024 * 1024);
    this.#outbox = outbox;
    const waiters = new SiteWaiters();
    const work = new WorkSignal((ids) => waiters.wake(ids));
    const uplink = new Uplink({
      identity,
      cache,
      outbox,
      feedWaitSeconds: opts.feedWaitSeconds ?? 50,
      batchIntervalMs: opts.batchIntervalMs ?? 1000,
      onDesiredChanged: (ids) => waiters.wake(ids),
      onWork: (ids) => work.replace(ids),
      onNotStored: (item) => {
        if (item.kind === 'report') this.#reports.forget(item.siteId, item.id);
      },
      takeSeen: () => {
        const seen = this.#seenSinceBatch;
        this.#seenSinceBatch = [];
        this.#seenTakenAt = Date.now();
        return seen;
      },
      status: () => this.status(),
      log: opts.log,
    });
    this.#uplink = uplink;
    const server = await buildSiteApi({
      cache,
      waiters,
      work,
      caPem: identity.caPem,
      serverCertPem: identity.serverCertPem,
      keyPem: identity.keyPem,
      maxWaitSeconds: opts.maxWaitSeconds ?? 50,
      takeReport: (siteId, report, text) => this.#takeReport(siteId, report, text),
      keepTelemetry: (siteId, body) => this.#keep(siteId, 'telemetry', body),
      heard: (siteId) => {
        const now = Date.now();
        const before = this.#lastCall.get(siteId);
        this.#lastCall.set(siteId, now);
        if (before === undefined || before < this.#seenTakenAt) this.#seenSinceBatch.push(siteId);
      },
      maxTelemetryBytes: 16 * 1024 * 1024,
      status: () => this.status(),
    });
    this.#server = server;
    await server.listen({ host, port });
    const address = server.server.address() as AddressInfo;
    this.#url = `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
    opts.log?.('relay listening', { relay: identity.name, url: this.#url, hub: identity.hub });
    try {
      await Promise.all([
        uplink.runFeed(signal),
        uplink.runSender(signal),
        this.#renew(identity, names, signal),
      ]);
    } finally {
      await server.close();
      uplink.close();
      outbox.close();
      cache.close();
    }
  }

  /**
   * Renews the relay's certificates at two thirds of their life (retrying while the hub is out of
   * reach) and serves and calls with the new ones from then on, without a restart.
   */
  async #renew(identity: RelayIdentity, names: readonly string[], signal: AbortSignal): Promise<void> {
    const pause = new Wakeup();
    let current = identity;
    let failures = 0;
    while (!signal.aborted) {
      const waitMs = relayRenewalDue(current).getTime() - Date.now();
      if (waitMs > 0) {
        // a timer holds at most ~24 days; a longer wait is taken in steps
        await pause.sleep(Math.min(waitMs, 86400_000), signal);
        continue;
      }
      try {
        current = await renewRelayIdentity(this.#opts.stateDir, current, names);
        (this.#server!.server as unknown as HttpsServer).setSecureContext({
          key: current.keyPem,
          cert: current.serverCertPem,
          ca: current.caPem,
        });
        this.#uplink!.useIdentity(current);
        failures = 0;
        this.#opts.log?.('relay certificates renewed', { due: relayRenewalDue(current).toISOString() });
      } catch (e) {
        const delay = backoffDelay(failures++, 1000, 300_000);
        this.#opts.log?.('relay certificate renewal failed; retrying', {
          error: (e as Error).message,
          delayMs: delay,
        });
        await pause.sleep(delay, signal);
      }
    }
  }

  /** A report goes into the outbox unless it repeats what the hub has from this relay. */
  #takeReport(siteId: string, report: Report, text: string): Promise<void> {
    const { seq } = report;
    const content = sha256Digest(reportContentText(text, report));
    if (!this.#reports.take(siteId, { seq, content }, Date.now())) return Promise.resolve();
    return this.#keep(siteId, 'report', text, { seq, content });
  }

  #keep(siteId: string, kind: OutboxKind, body: string, report?: { seq: number; content: string }) {
    return new Promise<void>((resolve, reject) => {
      if (this.#toKeep.length === 0) setImmediate(() => this.#keepQueued());
      this.#toKeep.push({ siteId, kind, body, report, done: (e) => (e ? reject(e) : resolve()) });
    });
  }

  #keepQueued(): void {
    const batch = this.#toKeep;
    this.#toKeep = [];
    try {
      const { ids, dropped } = this.#outbox!.add(batch);
      const now = Date.now();
      batch.forEach((k, i) => {
        if (k.report) this.#reports.remember(k.siteId, k.report, ids[i]!, now);
      });
      // a report the budget pushed out never reaches the hub: its site's next one must
      for (const d of dropped) this.#reports.forget(d.siteId, d.id);
      for (const k of batch) k.done();
      this.#uplink!.itemsWaiting();
    } catch (e) {
      for (const k of batch) k.done(e);
    }
  }

  /** What the relay says of itself: to the hub with each batch, and on its own status page. */
  status(): RelayStatus {
    const now = Date.now();
    let connected = 0;
    for (const [id, at] of this.#lastCall) {
      if (now - at <= connectedForMs) connected++;
      else this.#lastCall.delete(id);
    }
    const fed = this.#uplink?.feedHeardAt ?? 0;
    return {
      connectedSites: connected,
      outbox: this.#outbox?.stats() ?? { pending: 0, bytes: 0, dropped: 0 },
      feedLagSeconds: fed === 0 ? 0 : Math.max(0, (now - fed) / 1000),
      reports: this.#reports.counts(),
    };
  }
}

function splitHostPort(listen: string): [string, number] {
  const i = listen.lastIndexOf(':');
  const port = Number(listen.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--listen wants host:port, not ${listen}`);
  }
  return [listen.slice(0, i) || '0.0.0.0', port];
}
