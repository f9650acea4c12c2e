// Which telemetry goes first and which goes when the agent's buffer is full, decided over a summary of
// the buffer's segments (no I/O). A batch takes the highest class first, oldest segment first; making
// room drops the oldest segment of the lowest class, never one being sent, and never data of a higher
// class than the record that needs the room (that record is the lowest-priority data then, so it goes).

import type { TelemetryClass } from '../../../model/telemetry.ts';
import { telemetryClasses } from '../../../model/telemetry-names.ts';

/** One segment of one class as the policy sees it. */
export interface SegmentSummary {
  no: number;
  records: number;
  bytes: number;
}

/** Per class, its segments oldest first (the last one may still be open for appends). */
export type SegmentQueues = Record<TelemetryClass, readonly SegmentSummary[]>;

export interface SegmentRef {
  cls: TelemetryClass;
  no: number;
}

const rank = (cls: TelemetryClass) => telemetryClasses.indexOf(cls);

export function totalBytes(queues: SegmentQueues): number {
  let n = 0;
  for (const cls of telemetryClasses) for (const s of queues[cls]) n += s.bytes;
  return n;
}

/**
 * The one segment to drop next to make room for a record of class `incoming`: the oldest unpinned
 * segment of the lowest class at or below `incoming`; undefined when there is none.
 * @example nextDrop(queues, 'sli') // → { cls: 'debug', no: 3 } while debug data is left
 */
export function nextDrop(
  queues: SegmentQueues,
  incoming: TelemetryClass,
  pinned: readonly SegmentRef[] = [],
): SegmentRef | undefined {
  for (let r = telemetryClasses.length - 1; r >= rank(incoming); r--) {
    const cls = telemetryClasses[r]!;
    for (const s of queues[cls]) {
      if (pinned.some((p) => p.cls === cls && p.no === s.no)) continue;
      return { cls, no: s.no };
    }
  }
  return undefined;
}

export interface RoomPlan {
  /** segments to drop, in order */
  drops: SegmentRef[];
  /** false: even after the drops the record does not fit, so the record itself is dropped */
  fits: boolean;
}

/**
 * What to drop so that a record of `size` bytes and class `incoming` fits under `budget`.
 * Nothing is dropped while the buffer plus the record stays within the budget.
 */
export function planRoom(
  queues: SegmentQueues,
  budget: number,
  incoming: TelemetryClass,
  size: number,
  pinned: readonly SegmentRef[] = [],
): RoomPlan {
  let total = totalBytes(queues) + size;
  if (total <= budget) return { drops: [], fits: true };
  const left: Record<TelemetryClass, SegmentSummary[]> = {
    sli: [...queues.sli],
    event: [...queues.event],
    metric: [...queues.metric],
    debug: [...queues.debug],
  };
  const drops: SegmentRef[] = [];
  while (total > budget) {
    const drop = nextDrop(left, incoming, pinned);
    if (!drop) return { drops, fits: false };
    const i = left[drop.cls].findIndex((s) => s.no === drop.no);
    total -= left[drop.cls][i]!.bytes;
    left[drop.cls].splice(i, 1);
    drops.push(drop);
  }
  return { drops, fits: true };
}

/**
 * The segments of the next batch: highest class first, oldest first, as many as fit in `maxBytes` (at
 * least one). It stops at the first segment that does not fit, so each class always sends a prefix of
 * what it holds and arrives in order.
 */
export function planBatch(queues: SegmentQueues, maxBytes: number): SegmentRef[] {
  const out: SegmentRef[] = [];
  let bytes = 0;
  for (const cls of telemetryClasses) {
    for (const s of queues[cls]) {
      if (s.records === 0) continue;
      if (out.length > 0 && bytes + s.bytes > maxBytes) return out;
      out.push({ cls, no: s.no });
      bytes += s.bytes;
    }
  }
  return out;
}
