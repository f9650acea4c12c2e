// Which sites have operations waiting, in memory, so the agents' long-poll (the hub's hottest path) can
// say so without a query per poll: queuing marks the site and wakes its poll, claiming clears the mark.
// Replicas relay marks to each other; each loads the marks from the store when it starts or resyncs.
// A poll ends early only until the site has been told once: an agent that never claims (an older
// version) then polls at its normal pace instead of in a tight loop. A regional relay keeps one too.

import type { Db } from '../store/schema.ts';

export class WorkSignal {
  readonly #waiting = new Set<string>();
  /** sites whose poll already said work waits */
  readonly #told = new Set<string>();
  readonly #wake: (siteIds: readonly string[]) => void;
  readonly #relay: ((siteIds: readonly string[]) => void) | undefined;

  /** `wake` ends these sites' held long-polls; `relay` tells other replicas (several on PostgreSQL). */
  constructor(wake: (siteIds: readonly string[]) => void, relay?: (siteIds: readonly string[]) => void) {
    this.#wake = wake;
    this.#relay = relay;
  }

  /** Whether operations may wait for the site: its poll's answer says so. */
  has(siteId: string): boolean {
    return this.#waiting.has(siteId);
  }

  /** Whether the site's poll should answer at once: work waits that it has not been told of. */
  untold(siteId: string): boolean {
    return this.#waiting.has(siteId) && !this.#told.has(siteId);
  }

  /** The site's poll said work waits. */
  told(siteId: string): void {
    this.#told.add(siteId);
  }

  /** Operations were queued for these sites (after the commit): mark, wake and relay. */
  notify(siteIds: readonly string[]): void {
    this.received(siteIds);
    if (siteIds.length > 0) this.#relay?.(siteIds);
  }

  /** Another replica queued operations for these sites. */
  received(siteIds: readonly string[]): void {
    for (const id of siteIds) {
      this.#waiting.add(id);
      this.#told.delete(id);
    }
    this.#wake(siteIds);
  }

  /**
   * Marks exactly these sites, as a regional relay learns the whole set from each change feed answer:
   * the newly marked are woken, the others cleared.
   */
  replace(siteIds: readonly string[]): void {
    const now = new Set(siteIds);
    for (const id of this.#waiting) if (!now.has(id)) this.clear(id);
    this.received(siteIds.filter((id) => !this.#waiting.has(id)));
  }

  /** The site's agent is picking up its operations; anything queued after this marks it again. */
  clear(siteId: string): void {
    this.#waiting.delete(siteId);
    this.#told.delete(siteId);
  }

  /** Marks the sites the store says have operations waiting (at start, and after missed relays). */
  async load(db: Db): Promise<void> {
    const rows = await sitesWithQueuedWork(db);
    this.received(rows);
  }
}

export async function sitesWithQueuedWork(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('site_operations')
    .select('site_id')
    .distinct()
    .where('state', '=', 'queued')
    .execute();
  return rows.map((r) => r.site_id);
}
