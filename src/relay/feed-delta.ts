// How a relay's copy of its change feed takes a delta from the hub: the sites that changed replace theirs,
// those that left its scope go, and the operations waiting and the cursor are the delta's.

import type { RelayFeed } from '../model/relay-wire.ts';

/**
 * The feed `held` with `delta` applied (a new object; `held` is left as it was).
 *
 * @example applyFeedDelta(held, { digest, sites: [w3], removed: [w2], work: [], delta: true, cursor })
 */
export function applyFeedDelta(held: RelayFeed, delta: RelayFeed): RelayFeed {
  const sites = new Map(held.sites.map((s) => [s.id, s]));
  for (const id of delta.removed ?? []) sites.delete(id);
  for (const s of delta.sites) sites.set(s.id, s);
  return { digest: delta.digest, sites: [...sites.values()], work: delta.work ?? [], cursor: delta.cursor };
}
