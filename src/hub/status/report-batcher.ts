// Group commit for agents' reports: reports that arrive while a transaction is running wait and are
// then ingested together, in order, in one transaction, so a busy hub pays one commit per batch
// rather than per report. A failed batch is retried report by report, so one bad report fails alone.

import type { Report } from '../../model/wire.ts';
import type { HubContext } from '../context.ts';
import type { Site } from '../sites/sites.ts';
import { ingestInTransaction, ingestReport, type ReportAck } from './reports.ts';

interface Pending {
  site: Site;
  report: Report;
  resolve: (ack: ReportAck) => void;
  reject: (e: unknown) => void;
}

/** Longest batch: bounds how long one transaction holds the store. */
const maxBatch = 64;

export class ReportBatcher {
  readonly #ctx: HubContext;
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;

  constructor(ctx: HubContext) {
    this.#ctx = ctx;
  }

  /** Resolves with the report's ack once the transaction holding it has committed. */
  submit(site: Site, report: Report): Promise<ReportAck> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ site, report, resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // let the reports of the same I/O turn join the first batch
    await new Promise((r) => setImmediate(r));
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, maxBatch);
      await this.#ingest(batch);
    }
    this.#running = undefined;
  }

  async #ingest(batch: Pending[]): Promise<void> {
    const ctx = this.#ctx;
    if (batch.length === 1) {
      const [p] = batch as [Pending];
      await ingestReport(ctx, p.site, p.report).then(p.resolve, p.reject);
      return;
    }
    let acks: ReportAck[];
    let events = 0;
    try {
      acks = await ctx.store.db.transaction().execute(async (tx) => {
        const out: ReportAck[] = [];
        for (const p of batch) {
          const r = await ingestInTransaction(ctx, tx, p.site, p.report);
          out.push(r.ack);
          events += r.events;
        }
        return out;
      });
    } catch {
      for (const p of batch) await ingestReport(ctx, p.site, p.report).then(p.resolve, p.reject);
      return;
    }
    if (events > 0) ctx.events.notify();
    batch.forEach((p, i) => {
      p.resolve(acks[i]!);
    });
  }
}
