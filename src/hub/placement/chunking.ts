// How many sites the next placement transaction takes. On PostgreSQL a chunk holds its sites' rows from
// its first read to its commit, and reports for those sites wait meanwhile: the size follows how long
// the last chunk held them, so each holds them about `targetMs` whatever the machine's load and the
// bundles' weight. Pure: the caller times its transactions.

export interface ChunkSizing {
  /** how long one chunk should hold its rows, ms */
  targetMs: number;
  /** fewest sites a chunk takes: below it, a transaction's fixed cost is most of its time */
  min: number;
  /** most sites a chunk takes (placement.sitesPerTransaction) */
  max: number;
}

/** A first chunk's size, before any has been timed: small, as a run's first chunk also warms it up. */
export function firstChunkSize(sizing: ChunkSizing): number {
  return clamp(2 * sizing.min, sizing);
}

/**
 * The next chunk's size from the last one's: as many sites as the last one's rate would place in
 * `targetMs`, growing at most twofold a step (one fast chunk, rows another writer had just read, must
 * not make the next one ten times longer) and shrinking at once (a slow one is the tail reports feel).
 * `sites` is what the last chunk placed (sites it skipped cost next to nothing); `ms` how long it held
 * them.
 */
export function nextChunkSize(sites: number, ms: number, sizing: ChunkSizing): number {
  if (sites <= 0) return clamp(sizing.min, sizing);
  if (!(ms > 0)) return clamp(sites * 2, sizing);
  const fits = (sites * sizing.targetMs) / ms;
  return clamp(Math.min(fits, sites * 2), sizing);
}

function clamp(n: number, { min, max }: ChunkSizing): number {
  return Math.max(1, Math.min(max, Math.max(min, Math.floor(n))));
}
