// The agent's store-and-forward telemetry buffer on disk: append-only segment files per priority class
// inside a byte budget, sent a few segments per batch, deleted once the hub acknowledged them.
//
// Durability: a record is *appended* once `append()` resolved: it is in the segment file (written, not
// yet fsynced), so it survives the agent's crash or kill; `sync()` (the collector calls it every few
// seconds, and sealing and closing do it too) makes what was appended before it survive power loss.
// The send cursor (which segments are gone, which one is on the wire) lives in cursor.json, written
// atomically before a segment file is deleted: a restart resends nothing acknowledged and loses nothing
// appended. A batch once offered to the hub stays pinned, never dropped, and is offered again as it was
// until acknowledged or refused, so the hub's dedup by batchId plus the drop counts add up exactly.
//
// Files: `<class>.<no>.open` while appends go to it; sealed as `<class>.<no>.<records>.seg` (the name
// carries how many records it must yield, so damage is counted, not guessed).

import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  TelemetryClass,
  TelemetryDrops,
  TelemetryEvent,
  TelemetrySample,
} from '../../model/telemetry.ts';
import { telemetryClasses } from '../../model/telemetry-names.ts';
import { readJson, writeAtomic } from '../state/local-state.ts';
import { nextDrop, planBatch, planRoom, type SegmentQueues, type SegmentRef } from './core/drop-policy.ts';
import { decodeSegment, encodeRecord, maxRecordBytes, recordHeaderBytes } from './segment.ts';

export interface BufferOptions {
  /** bytes on disk over all classes (default 64 MiB) */
  budgetBytes?: number;
  /** a segment is sealed at this size (default 256 KiB) */
  segmentBytes?: number;
  /** a batch holds segments up to this many bytes, at least one (default 1 MiB) */
  maxBatchBytes?: number;
  now?: () => number;
}

export const defaultBudgetBytes = 64 * 1024 * 1024;
export const defaultSegmentBytes = 256 * 1024;

/** What one batch carries: the records of its segments, highest class first, each class in order. */
export interface OutgoingBatch {
  batchId: string;
  samples: TelemetrySample[];
  events: TelemetryEvent[];
  /** cumulative drops at the time the batch was read */
  dropped: TelemetryDrops;
  /** bytes the batch's segments take on disk */
  bytes: number;
}

export interface BufferProblem {
  at: string;
  message: string;
}

export interface BufferStats {
  budgetBytes: number;
  bytes: number;
  classes: Record<TelemetryClass, { records: number; bytes: number; segments: number }>;
  /** cumulative, since the buffer directory was made: full buffer, full disk, damage and refusals */
  dropped: TelemetryDrops;
  /** the part of `dropped` lost to damaged segment files */
  corrupted: TelemetryDrops;
  /** since when writes fail for lack of space, while they do */
  diskFullSince: string | null;
  /** the last time a write found the disk full */
  lastDiskFull: string | null;
  /** the most recent problems, newest last */
  problems: BufferProblem[];
}

interface Segment {
  no: number;
  /** records the segment holds (for a sealed one: must yield) */
  records: number;
  bytes: number;
  sealed: boolean;
}

/** The persisted send cursor and counters. */
interface Cursor {
  /** makes batch ids unique across a wiped state directory */
  epoch: string;
  classes: Record<TelemetryClass, { firstLive: number; removed: number[]; nextSegment: number }>;
  /** the batch on the wire: resent as it is, under its id, until acknowledged */
  inflight: { id: number; segments: SegmentRef[] } | null;
  /** the id of the next batch */
  nextBatch: number;
  dropped: TelemetryDrops;
  corrupted: TelemetryDrops;
}

const zeroDrops = (): TelemetryDrops => ({ sli: 0, event: 0, metric: 0, debug: 0 });
const pad = (n: number) => String(n).padStart(12, '0');
const fileName = (cls: TelemetryClass, s: Segment) =>
  s.sealed ? `${cls}.${pad(s.no)}.${s.records}.seg` : `${cls}.${pad(s.no)}.open`;
const namePattern = /^(sli|event|metric|debug)\.(\d{12})\.(?:(\d+)\.seg|open)$/;
const maxProblems = 20;

function isSpaceError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** A short write (the disk filled up mid-record) is finished or turned into ENOSPC. */
async function writeFully(fh: FileHandle, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    done += bytesWritten;
  }
}

export class TelemetryBuffer {
  readonly #dir: string;
  readonly #budget: number;
  readonly #segmentBytes: number;
  readonly #maxBatchBytes: number;
  readonly #now: () => number;
  readonly #queues: Record<TelemetryClass, Segment[]> = { sli: [], event: [], metric: [], debug: [] };
  readonly #handles = new Map<string, FileHandle>();
  readonly #problems: BufferProblem[] = [];
  /** warnings about the buffer itself, appended as events when the lock is next free */
  readonly #warnings: TelemetryEvent[] = [];
  #cursor: Cursor;
  #diskFullSince: number | undefined;
  #lastDiskFull: number | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  /** appended to since the last sync */
  #dirty = false;
  #closed = false;

  private constructor(dir: string, opts: BufferOptions, cursor: Cursor) {
    this.#dir = dir;
    this.#budget = opts.budgetBytes ?? defaultBudgetBytes;
    this.#segmentBytes = opts.segmentBytes ?? defaultSegmentBytes;
    this.#maxBatchBytes = opts.maxBatchBytes ?? 4 * this.#segmentBytes;
    this.#now = opts.now ?? Date.now;
    this.#cursor = cursor;
  }

  /** Opens (or makes) the buffer in `dir`, recovering from a crash and from damaged files. */
  static async open(dir: string, opts: BufferOptions = {}): Promise<TelemetryBuffer> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let saved: Cursor | undefined;
    let unreadable: string | undefined;
    try {
      saved = await readJson<Cursor>(join(dir, 'cursor.json'));
    } catch (e) {
      // a damaged disk: keep every segment (some may go twice) rather than lose them
      unreadable = (e as Error).message;
    }
    const cursor: Cursor = saved ?? {
      epoch: randomBytes(4).toString('hex'),
      classes: {
        sli: { firstLive: 1, removed: [], nextSegment: 1 },
        event: { firstLive: 1, removed: [], nextSegment: 1 },
        metric: { firstLive: 1, removed: [], nextSegment: 1 },
        debug: { firstLive: 1, removed: [], nextSegment: 1 },
      },
      inflight: null,
      nextBatch: 1,
      dropped: zeroDrops(),
      corrupted: zeroDrops(),
    };
    const buffer = new TelemetryBuffer(dir, opts, cursor);
    if (unreadable) {
      const message = `the telemetry send cursor was unreadable (${unreadable}); every segment on disk is sent, some perhaps twice, and earlier drop counts are lost`;
      buffer.#problem(message);
      buffer.#warn('TelemetryCursorLost', message);
    }
    await buffer.#recover();
    if (!saved || unreadable) await buffer.#saveCursor();
    return buffer;
  }

  async #recover(): Promise<void> {
    const files = (await readdir(this.#dir)).sort();
    for (const f of files) {
      if (f.endsWith('.tmp')) {
        await rm(join(this.#dir, f), { force: true }); // an atomic write cut short
        continue;
      }
      const m = namePattern.exec(f);
      if (!m) continue;
      const cls = m[1] as TelemetryClass;
      const no = Number(m[2]);
      const c = this.#cursor.classes[cls];
      if (no < c.firstLive || c.removed.includes(no)) {
        // acknowledged or dropped, and the cursor says so, but the delete did not happen before a crash
        await rm(join(this.#dir, f), { force: true });
        continue;
      }
      c.nextSegment = Math.max(c.nextSegment, no + 1);
      const data = await readFile(join(this.#dir, f));
      const decoded = decodeSegment(data);
      if (m[3] !== undefined) {
        const seg: Segment = { no, records: Number(m[3]), bytes: data.length, sealed: true };
        this.#queues[cls].push(seg);
        await this.#recount(cls, seg, decoded.records.length);
        if (seg.records === 0) await this.#remove([{ cls, seg }]);
        continue;
      }
      // An open segment from before a restart: cut a torn tail off, seal it with what it holds.
      const highest = decoded.records.reduce((n, r) => Math.max(n, r.index + 1), 0);
      if (decoded.validEnd < data.length) {
        await truncate(join(this.#dir, f), decoded.validEnd);
        this.#problem(
          `discarded ${data.length - decoded.validEnd} bytes of an incomplete record at the end of ${f} (a write cut off by a crash or power loss)`,
        );
      }
      const seg: Segment = { no, records: highest, bytes: decoded.validEnd, sealed: true };
      if (highest === 0) {
        await rm(join(this.#dir, f), { force: true });
        continue;
      }
      await rename(join(this.#dir, f), join(this.#dir, fileName(cls, seg)));
      this.#queues[cls].push(seg);
      await this.#recount(cls, seg, decoded.records.length);
      if (seg.records === 0) await this.#remove([{ cls, seg }]);
    }
    const inflight = this.#cursor.inflight;
    if (inflight && !inflight.segments.every((ref) => this.#segment(ref))) {
      // a damaged segment of the batch on the wire went: the rest goes again under the same id
      const left = inflight.segments.filter((ref) => this.#segment(ref));
      this.#cursor.inflight = left.length > 0 ? { id: inflight.id, segments: left } : null;
      await this.#saveCursor();
    }
  }

  /**
   * Counts the records a damaged segment lost and renames it to the count it still yields. The cursor is
   * saved first: a crash between the two counts that loss again on the next start (never not at all).
   */
  async #recount(cls: TelemetryClass, seg: Segment, valid: number): Promise<void> {
    if (valid >= seg.records) return;
    const file = fileName(cls, seg);
    const lost = seg.records - valid;
    this.#cursor.dropped[cls] += lost;
    this.#cursor.corrupted[cls] += lost;
    seg.records = valid;
    await this.#saveCursor();
    if (valid > 0) await rename(join(this.#dir, file), join(this.#dir, fileName(cls, seg)));
    else await rm(join(this.#dir, file), { force: true });
    const message = `telemetry segment ${file} is damaged: ${lost} ${cls} record(s) lost, ${valid} recovered`;
    this.#problem(message);
    this.#warn('TelemetryBufferCorrupted', message);
  }

  /** A Warning event about the buffer itself, appended (highest but one class) once the lock is free. */
  #warn(reason: string, message: string): void {
    this.#warnings.push({
      t: this.#now(),
      type: 'Warning',
      object: 'Agent outpost/telemetry-buffer',
      reason,
      message,
    });
  }

  #problem(message: string): void {
    this.#problems.push({ at: new Date(this.#now()).toISOString(), message });
    if (this.#problems.length > maxProblems) this.#problems.shift();
  }

  #segment(ref: SegmentRef): Segment | undefined {
    return this.#queues[ref.cls].find((s) => s.no === ref.no);
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(async () => {
      if (this.#closed) throw new Error('the telemetry buffer is closed');
      await this.#flushWarnings();
      return fn();
    });
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #flushWarnings(): Promise<void> {
    while (this.#warnings.length > 0) {
      const w = this.#warnings.shift()!;
      await this.#append('event', w);
    }
  }

  stats(): BufferStats {
    const classes = {} as BufferStats['classes'];
    let bytes = 0;
    for (const cls of telemetryClasses) {
      const q = this.#queues[cls];
      const b = q.reduce((n, s) => n + s.bytes, 0);
      classes[cls] = { records: q.reduce((n, s) => n + s.records, 0), bytes: b, segments: q.length };
      bytes += b;
    }
    return {
      budgetBytes: this.#budget,
      bytes,
      classes,
      dropped: { ...this.#cursor.dropped },
      corrupted: { ...this.#cursor.corrupted },
      diskFullSince: this.#diskFullSince === undefined ? null : new Date(this.#diskFullSince).toISOString(),
      lastDiskFull: this.#lastDiskFull === undefined ? null : new Date(this.#lastDiskFull).toISOString(),
      problems: [...this.#problems],
    };
  }

  /** Counts a record that never made it into the buffer (it was invalid), with the reason. */
  reject(cls: TelemetryClass, why: string): Promise<void> {
    return this.#locked(() => this.#countDrop(cls, 1, why));
  }

  /** Appends one sample or event; resolves once it is written (see the durability note at the top). */
  append(cls: TelemetryClass, item: TelemetrySample | TelemetryEvent): Promise<void> {
    return this.#locked(() => this.#append(cls, item));
  }

  async #append(cls: TelemetryClass, item: TelemetrySample | TelemetryEvent): Promise<void> {
    const payload = Buffer.from(JSON.stringify(item));
    const size = recordHeaderBytes + payload.length;
    if (payload.length > maxRecordBytes || size > this.#segmentBytes || size > this.#budget) {
      await this.#countDrop(cls, 1, `a ${cls} record of ${size} bytes is larger than a segment`);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const plan = planRoom(this.#view(), this.#budget, cls, size, this.#cursor.inflight?.segments);
      for (const d of plan.drops) await this.#drop(d);
      if (!plan.fits) {
        await this.#countDrop(cls, 1);
        return;
      }
      let seg = this.#queues[cls].at(-1);
      if (seg && !seg.sealed && seg.bytes + size > this.#segmentBytes) {
        try {
          await this.#seal(cls, seg);
        } catch (e) {
          if (!isSpaceError(e)) throw e;
          this.#noteDiskFull();
          if (await this.#roomAfterFullDisk(cls)) continue;
          return;
        }
        seg = undefined;
      }
      if (!seg || seg.sealed) {
        seg = { no: this.#cursor.classes[cls].nextSegment++, records: 0, bytes: 0, sealed: false };
        this.#queues[cls].push(seg);
      }
      try {
        const fh = await this.#handle(cls, seg);
        await writeFully(fh, encodeRecord(seg.records, payload));
        seg.records++;
        seg.bytes += size;
        this.#dirty = true;
        if (attempt === 0) this.#diskFullSince = undefined;
        return;
      } catch (e) {
        if (!isSpaceError(e)) throw e;
        await this.#onDiskFull(cls, seg);
        if (!(await this.#roomAfterFullDisk(cls))) return;
      }
    }
  }

  /** Drops the next segment the policy gives up for a record of `cls`; false: none, the record went. */
  async #roomAfterFullDisk(cls: TelemetryClass): Promise<boolean> {
    const room = nextDrop(this.#view(), cls, this.#cursor.inflight?.segments);
    if (!room) {
      await this.#countDrop(cls, 1);
      return false;
    }
    await this.#drop(room);
    return true;
  }

  #noteDiskFull(): void {
    this.#lastDiskFull = this.#now();
    if (this.#diskFullSince === undefined) {
      this.#diskFullSince = this.#now();
      const message = 'the disk is full: dropping the oldest lowest-priority telemetry to make room';
      this.#problem(message);
      this.#warn('TelemetryDiskFull', message);
    }
  }

  /** A write failed for lack of space: undo any part of it, note the full disk. */
  async #onDiskFull(cls: TelemetryClass, seg: Segment): Promise<void> {
    this.#noteDiskFull();
    const fh = this.#handles.get(`${cls}.${seg.no}`);
    if (fh) await fh.truncate(seg.bytes);
    if (seg.records === 0) {
      await this.#closeHandle(cls, seg);
      await rm(join(this.#dir, fileName(cls, seg)), { force: true });
      this.#queues[cls].splice(this.#queues[cls].indexOf(seg), 1);
    }
  }

  async #countDrop(cls: TelemetryClass, n: number, why?: string): Promise<void> {
    this.#cursor.dropped[cls] += n;
    if (why) this.#problem(why);
    try {
      await this.#saveCursor();
    } catch (e) {
      // the count stays in memory and goes to disk with the next cursor write that finds room
      if (!isSpaceError(e)) throw e;
    }
  }

  #view(): SegmentQueues {
    return this.#queues;
  }

  async #handle(cls: TelemetryClass, seg: Segment): Promise<FileHandle> {
    const key = `${cls}.${seg.no}`;
    let fh = this.#handles.get(key);
    if (!fh) {
      fh = await open(join(this.#dir, fileName(cls, seg)), 'a', 0o600);
      this.#handles.set(key, fh);
    }
    return fh;
  }

  async #closeHandle(cls: TelemetryClass, seg: Segment, sync = false): Promise<void> {
    const key = `${cls}.${seg.no}`;
    const fh = this.#handles.get(key);
    if (!fh) return;
    this.#handles.delete(key);
    try {
      if (sync) await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  /** Closes a segment for appends; should the rename fail, it stays open and takes appends again. */
  async #seal(cls: TelemetryClass, seg: Segment): Promise<void> {
    await this.#closeHandle(cls, seg, true);
    await rename(
      join(this.#dir, fileName(cls, seg)),
      join(this.#dir, fileName(cls, { ...seg, sealed: true })),
    );
    seg.sealed = true;
    await this.#syncDir();
  }

  async #syncDir(): Promise<void> {
    const dh = await open(this.#dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  /** Drops a whole segment: counted, cursor saved, then the file goes. */
  async #drop(ref: SegmentRef): Promise<void> {
    const seg = this.#segment(ref)!;
    this.#cursor.dropped[ref.cls] += seg.records;
    await this.#remove([{ cls: ref.cls, seg }]);
  }

  /** Takes segments out of the buffer: the cursor says they are gone (one atomic write), then files go. */
  async #remove(segs: ReadonlyArray<{ cls: TelemetryClass; seg: Segment }>): Promise<void> {
    for (const { cls, seg } of segs) {
      const q = this.#queues[cls];
      q.splice(q.indexOf(seg), 1);
      const c = this.#cursor.classes[cls];
      c.removed.push(seg.no);
      c.firstLive = q[0]?.no ?? c.nextSegment;
      c.removed = c.removed.filter((n) => n >= c.firstLive);
      await this.#closeHandle(cls, seg);
    }
    const paths = segs.map(({ cls, seg }) => join(this.#dir, fileName(cls, seg)));
    try {
      await this.#saveCursor();
    } catch (e) {
      if (!isSpaceError(e)) throw e;
      // no room even for the cursor: free the segments' space first, then record that they went
      for (const path of paths) await rm(path, { force: true });
      await this.#saveCursor();
      return;
    }
    for (const path of paths) await rm(path, { force: true });
  }

  /**
   * Saves the cursor; on a full disk, drops what the policy gives up first (never the batch on the wire)
   * until it fits. With nothing left to drop the pin holds in memory only, until the next save.
   */
  async #saveCursorMakingRoom(): Promise<void> {
    for (;;) {
      try {
        await this.#saveCursor();
        return;
      } catch (e) {
        if (!isSpaceError(e)) throw e;
        this.#noteDiskFull();
        const room = nextDrop(this.#view(), 'sli', this.#cursor.inflight?.segments);
        if (!room) return;
        await this.#drop(room);
      }
    }
  }

  #saveCursor(): Promise<void> {
    return writeAtomic(join(this.#dir, 'cursor.json'), JSON.stringify(this.#cursor));
  }

  /** Up to `n` of the newest records of a class still waiting to be sent, oldest first (for the local page). */
  newest(cls: TelemetryClass, n: number): Promise<Array<TelemetrySample | TelemetryEvent>> {
    return this.#locked(async () => {
      const out: Array<TelemetrySample | TelemetryEvent> = [];
      for (const seg of [...this.#queues[cls]].reverse()) {
        if (out.length >= n) break;
        let data: Buffer;
        try {
          data = await readFile(join(this.#dir, fileName(cls, seg)));
        } catch {
          continue; // a look for the page; damage is counted when the segment is sent
        }
        const items = decodeSegment(data).records.map(
          (r) => JSON.parse(r.payload.toString('utf8')) as TelemetrySample | TelemetryEvent,
        );
        out.unshift(...items.slice(-(n - out.length)));
      }
      return out;
    });
  }

  /** Makes every record appended so far survive power loss. */
  sync(): Promise<void> {
    return this.#locked(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      for (const fh of this.#handles.values()) await fh.datasync();
    });
  }

  /**
   * The next batch to send: the one on the wire if there is one (resent as it was, same batchId), else
   * the oldest segments of the highest classes up to the batch size, sealed now if appends were still
   * going to them. The batch is pinned (and the cursor saved) before it is returned.
   */
  next(): Promise<OutgoingBatch | undefined> {
    return this.#locked(async () => {
      for (;;) {
        const refs = this.#cursor.inflight?.segments ?? planBatch(this.#view(), this.#maxBatchBytes);
        if (refs.length === 0) {
          if (this.#cursor.inflight) {
            this.#cursor.inflight = null;
            await this.#saveCursor();
          }
          return undefined;
        }
        const kept: SegmentRef[] = [];
        const samples: TelemetrySample[] = [];
        const events: TelemetryEvent[] = [];
        let bytes = 0;
        for (const ref of refs) {
          const seg = this.#segment(ref);
          if (!seg) continue;
          if (!seg.sealed) await this.#seal(ref.cls, seg);
          const decoded = decodeSegment(await readFile(join(this.#dir, fileName(ref.cls, seg))));
          const valid = decoded.records.slice(0, seg.records);
          await this.#recount(ref.cls, seg, valid.length);
          if (valid.length === 0) {
            await this.#remove([{ cls: ref.cls, seg }]);
            continue;
          }
          kept.push(ref);
          bytes += seg.bytes;
          for (const r of valid) {
            const item = JSON.parse(r.payload.toString('utf8')) as unknown;
            if (ref.cls === 'event') events.push(item as TelemetryEvent);
            else samples.push(item as TelemetrySample);
          }
        }
        if (kept.length === 0) {
          this.#cursor.inflight = null;
          await this.#flushWarnings();
          continue;
        }
        if (!this.#cursor.inflight || kept.length !== refs.length) {
          this.#cursor.inflight = {
            id: this.#cursor.inflight?.id ?? this.#cursor.nextBatch++,
            segments: kept,
          };
          await this.#saveCursorMakingRoom();
        }
        return {
          batchId: `${this.#cursor.epoch}.${this.#cursor.inflight.id}`,
          samples,
          events,
          dropped: { ...this.#cursor.dropped },
          bytes,
        };
      }
    });
  }

  /** The hub has the batch (now or earlier): its segments go. */
  ack(batchId: string): Promise<void> {
    return this.#locked(async () => {
      const segs = this.#inflightOf(batchId);
      this.#cursor.inflight = null;
      await this.#remove(segs);
    });
  }

  /** The hub refuses the batch for good (it is invalid): it goes, counted as dropped. */
  refuse(batchId: string, why: string): Promise<void> {
    return this.#locked(async () => {
      const segs = this.#inflightOf(batchId);
      this.#cursor.inflight = null;
      const records = segs.reduce((n, s) => n + s.seg.records, 0);
      this.#problem(`the hub refused telemetry batch ${batchId} (${records} records): ${why}`);
      for (const { cls, seg } of segs) this.#cursor.dropped[cls] += seg.records;
      await this.#remove(segs);
    });
  }

  #inflightOf(batchId: string): Array<{ cls: TelemetryClass; seg: Segment }> {
    const inflight = this.#cursor.inflight;
    if (!inflight || `${this.#cursor.epoch}.${inflight.id}` !== batchId)
      throw new Error(`telemetry batch ${batchId} is not the one being sent`);
    return inflight.segments.flatMap((ref) => {
      const seg = this.#segment(ref);
      return seg ? [{ cls: ref.cls, seg }] : [];
    });
  }

  /** Syncs and closes the files; the buffer cannot be used after. */
  close(): Promise<void> {
    return this.#locked(async () => {
      for (const [key, fh] of this.#handles) {
        this.#handles.delete(key);
        await fh.datasync();
        await fh.close();
      }
      this.#closed = true;
    });
  }

  /**
   * Lets go of open files without syncing, as a killed process would (tests of crash recovery).
   */
  async abandon(): Promise<void> {
    this.#closed = true;
    for (const fh of this.#handles.values()) await fh.close();
    this.#handles.clear();
  }
}
