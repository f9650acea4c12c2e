// Tells the hub what the site runs, through the durable outbox: a report when something changed, or as
// a heartbeat, each sent in sequence and dropped only once acknowledged, so an outage replays in order.

import { sleep, Wakeup } from '../base/timing.ts';
import type { SiteStack } from '../model/site-stack.ts';
import type { DeploymentReport, Report } from '../model/wire.ts';
import { TransportError } from '../net/http-client.ts';
import { canonicalJson } from '../render/digest.ts';
import { type HubClient, HubError } from './hub-client.ts';
import { type HubContact, hubRetryDelay } from './hub-contact.ts';
import type { Outbox } from './state/outbox.ts';

/** What a report says, as the reconciler knows it. */
export interface ReportSource {
  /** what each placed bundle is doing now */
  deploymentReports(): DeploymentReport[];
  /** bundles removed from the site that the hub has not heard of yet */
  unreportedRemovals(): string[];
  /** the hub has heard of these removals (now or before) */
  removalsHeard(bundles: readonly string[]): void;
}

export interface ReporterOptions {
  outbox: Outbox;
  contact: HubContact;
  source: ReportSource;
  /** the cluster's nodes and the agent's version, reported with the deployments when known */
  stack?: () => Promise<SiteStack | undefined>;
  /** how often a report goes up even when nothing changed (only when none are waiting) */
  heartbeatMs: number;
  /** the hub knew later reports than this site's outbox: it wants the current state again */
  onSequenceReset: () => void;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class Reporter {
  readonly #opts: ReporterOptions;
  readonly #wakeSender = new Wakeup();
  /** woken when the hub answers again, so queued reports go without waiting out a backoff */
  readonly #hubBack = new Wakeup();
  #hub: HubClient | undefined;
  #lastEnqueued = '';
  #lastEnqueuedAt = 0;
  #ackedThisRun = false;

  constructor(opts: ReporterOptions) {
    this.#opts = opts;
  }

  /** Sends through `hub` from now on (the site has its identity). */
  useHub(hub: HubClient): void {
    this.#hub = hub;
    this.#wakeSender.wake();
  }

  /** Whether the hub has acknowledged a report of this process (readiness counts on it). */
  get ackedThisRun(): boolean {
    return this.#ackedThisRun;
  }

  /** Resolves once every waiting report is acknowledged, or after `timeoutMs`, whichever comes first. */
  async drain(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    this.#wakeSender.wake();
    this.#hubBack.wake();
    while (this.#opts.outbox.stats().pending > 0 && Date.now() < until) await sleep(100);
  }

  /** The hub answers again: send what waits now, not after the backoff. */
  hubBack(): void {
    this.#hubBack.wake();
  }

  /** Puts a report in the outbox when something changed, or as a heartbeat when none is waiting. */
  async enqueue(): Promise<void> {
    const { outbox, source } = this.#opts;
    const deployments = source.deploymentReports();
    const removed = source.unreportedRemovals();
    const stack = await this.#opts.stack?.();
    const body = canonicalJson({ deployments, removed, stack: stack ?? null });
    const heartbeatDue =
      Date.now() - this.#lastEnqueuedAt >= this.#opts.heartbeatMs && outbox.stats().pending === 0;
    if (body === this.#lastEnqueued && !heartbeatDue) return;
    const report: Omit<Report, 'seq'> = { deployments };
    if (removed.length > 0) report.removed = removed;
    if (stack) report.stack = stack;
    const dropped = outbox.stats().dropped;
    if (dropped > 0) report.droppedReports = dropped;
    await outbox.enqueue(report);
    this.#lastEnqueued = body;
    this.#lastEnqueuedAt = Date.now();
    this.#wakeSender.wake();
  }

  /** Sends the outbox's reports, oldest first, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { outbox, contact } = this.#opts;
    let failures = 0;
    while (!signal.aborted) {
      let report: Report | undefined;
      try {
        report = await outbox.oldest();
        const hub = this.#hub;
        if (!report || !hub) {
          // nothing to send, or no identity to send it with yet
          await this.#wakeSender.sleep(this.#opts.heartbeatMs, signal);
          continue;
        }
        const ack = await hub.report(report);
        contact.reached();
        this.#ackedThisRun = true;
        failures = 0;
        await outbox.ack(report.seq);
        this.#opts.source.removalsHeard(report.removed ?? []);
        if (!ack.accepted && ack.lastSeq >= outbox.stats().nextSeq) {
          // The hub remembers this site from before its state directory: continue above its numbers
          // and tell it the current state again.
          this.#opts.log?.('the hub is ahead of this site’s report sequence; continuing after it', {
            lastSeq: ack.lastSeq,
          });
          await outbox.continueAfter(ack.lastSeq);
          this.#lastEnqueued = '';
          this.#opts.onSequenceReset();
        }
      } catch (e) {
        if (signal.aborted) return;
        const refused = e instanceof HubError && !e.transient && e.status !== 401 && e.status !== 403;
        if (refused && report) {
          this.#opts.log?.('the hub refused a report; dropping it', { seq: report.seq, error: e.message });
          await outbox.drop(report.seq).catch(() => {});
          continue;
        }
        if (e instanceof HubError || e instanceof TransportError) contact.failed(e.message);
        // the outbox's disk in trouble: keep trying, slowly, rather than stop the agent
        else this.#opts.log?.('report outbox unavailable', { error: (e as Error).message });
        const delay = hubRetryDelay(failures++, this.#opts.heartbeatMs);
        await this.#hubBack.sleep(delay, signal);
      }
    }
  }
}
