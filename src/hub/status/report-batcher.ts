// Group commit for agents' reports: reports that arrive while a transaction is running (or, while they
// keep coming, within a short window) wait and are then ingested together, in order, in one transaction,
// so a busy hub pays one commit per batch rather than per report. A failed batch is retried report by
// report, so one bad report fails alone.

import type { Report } from '../../model/wire.ts';
import type { AgentSite } from '../sites/sites.ts';
import type { ReportAck } from './reports.ts';

/** Ingests reports in order in one transaction, all or none (reports.ts ingestReports). */
export type IngestReports = (reports: readonly { site: AgentSite; report: Report }[]) => Promise<ReportAck[]>;

interface Pending {
  site: AgentSite;
  report: Report;
  resolve: (ack: ReportAck) => void;
  reject: (e: unknown) => void;
}

/**
 * Longest batch: bounds how long one transaction holds the store (≈ 20 ms at ~80 µs a report). A relay's
 * batch of thousands of reports fills it; at 64 the commit was an eighth of a relayed report's hub CPU.
 */
const maxBatch = 256;

/**
 * How long a batch waits for more reports while they keep coming (PostgreSQL's commit_delay, for the
 * same reason): agents' direct reports arrive a few per I/O turn, and each batch pays one commit, one
 * event insert and one conformance query however few it holds. A report after a quiet spell goes at once.
 */
const defaultGatherMs = 2;

export class ReportBatcher {
  readonly #ingest: IngestReports;
  readonly #gatherMs: number;
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;
  /** when the last batch was done (performance.now()): a drain starting soon after it gathers */
  #lastDoneAt = Number.NEGATIVE_INFINITY;

  constructor(ingest: IngestReports, opts: { gatherMs?: number } = {}) {
    this.#ingest = ingest;
    this.#gatherMs = opts.gatherMs ?? defaultGatherMs;
  }

  /** Resolves with the report's ack once the transaction holding it has committed. */
  submit(site: AgentSite, report: Report): Promise<ReportAck> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ site, report, resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // let the reports of the same I/O turn join the first batch, and of the next few turns while
    // reports keep coming
    const busy = performance.now() - this.#lastDoneAt < this.#gatherMs;
    await new Promise((r) => (busy ? setTimeout(r, this.#gatherMs) : setImmediate(r)));
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, maxBatch);
      await this.#ingestBatch(batch);
    }
    this.#lastDoneAt = performance.now();
    this.#running = undefined;
  }

  async #ingestBatch(batch: Pending[]): Promise<void> {
    // a batch that fails is retried report by report (a batch of one already is)
    const acks = batch.length > 1 ? await this.#ingest(batch).catch(() => undefined) : undefined;
    if (acks) {
      batch.forEach((p, i) => {
        p.resolve(acks[i]!);
      });
      return;
    }
    for (const p of batch) await this.#ingest([p]).then(([ack]) => p.resolve(ack!), p.reject);
  }
}
