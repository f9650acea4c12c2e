// Reports waiting for the hub, on disk: one file per report named by its sequence number, so they survive
// a restart and go out in order after a partition. Bounded by count and bytes; when full, the oldest are
// dropped (the newest says most about the site now) and the drops are counted, never silent.

import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report } from '../../model/wire.ts';
import { readJson, writeAtomic } from './local-state.ts';

export interface OutboxLimits {
  maxReports: number;
  maxBytes: number;
}

export const defaultOutboxLimits: OutboxLimits = { maxReports: 1000, maxBytes: 8 * 1024 * 1024 };

export interface OutboxStats {
  /** reports waiting to be sent */
  pending: number;
  bytes: number;
  /** reports dropped because the outbox was full, since the state directory was made */
  dropped: number;
  /** the sequence number the next report gets */
  nextSeq: number;
}

interface Counters {
  /** the highest sequence number ever given out */
  seq: number;
  dropped: number;
}

const fileOf = (seq: number) => `${String(seq).padStart(16, '0')}.json`;

export class Outbox {
  readonly #dir: string;
  readonly #countersPath: string;
  readonly #limits: OutboxLimits;
  /** seq → size in bytes, oldest first */
  readonly #entries = new Map<number, number>();
  #bytes = 0;
  #counters: Counters;

  private constructor(stateDir: string, limits: OutboxLimits, counters: Counters) {
    this.#dir = join(stateDir, 'outbox');
    this.#countersPath = join(stateDir, 'report-seq.json');
    this.#limits = limits;
    this.#counters = counters;
  }

  static async open(stateDir: string, limits: OutboxLimits = defaultOutboxLimits): Promise<Outbox> {
    const saved = await readJson<Partial<Counters>>(join(stateDir, 'report-seq.json'));
    const outbox = new Outbox(stateDir, limits, { seq: saved?.seq ?? 0, dropped: saved?.dropped ?? 0 });
    await mkdir(outbox.#dir, { recursive: true, mode: 0o700 });
    const seqs = (await readdir(outbox.#dir))
      .filter((f) => /^\d+\.json$/.test(f))
      .map((f) => Number(f.slice(0, -5)))
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      const size = (await stat(join(outbox.#dir, fileOf(seq)))).size;
      outbox.#entries.set(seq, size);
      outbox.#bytes += size;
      // a crash between writing a report and its counter leaves the report as the better witness
      outbox.#counters.seq = Math.max(outbox.#counters.seq, seq);
    }
    return outbox;
  }

  stats(): OutboxStats {
    return {
      pending: this.#entries.size,
      bytes: this.#bytes,
      dropped: this.#counters.dropped,
      nextSeq: this.#counters.seq + 1,
    };
  }

  /** Gives the report the next sequence number and stores it; returns that number. */
  async enqueue(report: Omit<Report, 'seq'>): Promise<number> {
    const seq = this.#counters.seq + 1;
    const text = JSON.stringify({ ...report, seq });
    const size = Buffer.byteLength(text);
    await writeAtomic(join(this.#dir, fileOf(seq)), text);
    this.#counters.seq = seq;
    this.#entries.set(seq, size);
    this.#bytes += size;
    let dropped = 0;
    while (
      this.#entries.size > 1 &&
      (this.#entries.size > this.#limits.maxReports || this.#bytes > this.#limits.maxBytes)
    ) {
      const oldest = this.#entries.keys().next().value as number;
      await this.#remove(oldest);
      dropped++;
    }
    this.#counters.dropped += dropped;
    await this.#saveCounters();
    return seq;
  }

  /** The oldest waiting report, or undefined when all are sent. */
  async oldest(): Promise<Report | undefined> {
    for (const seq of this.#entries.keys()) {
      try {
        return JSON.parse(await readFile(join(this.#dir, fileOf(seq)), 'utf8')) as Report;
      } catch {
        if (!this.#entries.has(seq)) continue; // dropped or acked meanwhile
        // unreadable (a disk fault): it cannot be sent, so it counts as dropped
        await this.#remove(seq);
        this.#counters.dropped++;
        await this.#saveCounters();
      }
    }
    return undefined;
  }

  /** The hub has the report (accepted now, or earlier): it leaves the outbox. */
  async ack(seq: number): Promise<void> {
    await this.#remove(seq);
  }

  /** Gives up on a report the hub refuses for good; it counts as dropped. */
  async drop(seq: number): Promise<void> {
    if (!this.#entries.has(seq)) return;
    await this.#remove(seq);
    this.#counters.dropped++;
    await this.#saveCounters();
  }

  /**
   * The hub has seen sequence numbers beyond any this outbox gave out (the state directory was lost and
   * the site registered again): continue above them, or every new report would look like a replay.
   */
  async continueAfter(seq: number): Promise<void> {
    if (seq <= this.#counters.seq) return;
    this.#counters.seq = seq;
    await this.#saveCounters();
  }

  async #remove(seq: number): Promise<void> {
    const size = this.#entries.get(seq);
    if (size === undefined) return;
    await rm(join(this.#dir, fileOf(seq)), { force: true });
    this.#entries.delete(seq);
    this.#bytes -= size;
  }

  #saveCounters(): Promise<void> {
    return writeAtomic(this.#countersPath, JSON.stringify(this.#counters));
  }
}
