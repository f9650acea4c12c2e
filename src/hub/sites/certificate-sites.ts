// Which site an agent's client certificate belongs to, on every agent call: read with the certificate and
// site rows, then remembered per serial until revocation, expiry or a change to the site says otherwise.

import type { Connectivity, Lifecycle } from '../../model/site.ts';
import type { HubContext } from '../context.ts';
import type { DesiredWatch } from '../desired-watch.ts';
import { type Arg, preparedQuery } from '../store/prepared.ts';
import type { AgentSite } from './sites.ts';

/**
 * How long a remembered certificate is trusted without reading it again. A change made on this hub is
 * forgotten at once; another replica's change arrives by notification within moments (coordination.ts),
 * and this bound holds even when that notification is lost: a revoked certificate, a decommissioned or
 * relabelled site is refused or seen anew by every replica within 60 s.
 */
export const trustForMs = 60_000;

/** Remembered certificates at most: far above a fleet's live ones (about one a site); the oldest go first. */
const rememberedAtMost = 250_000;

/** What authentication makes of a certificate: its site (undefined when the row is gone) or why it is refused. */
export type CertificateLookup = { siteId: string; site: AgentSite | undefined } | { refused: string };

/** Every agent request that misses the memory reads its certificate and site with this one statement. */
const certificateAndSite = preparedQuery((db, arg: Arg<{ serial: string }>) =>
  db
    .selectFrom('certificates')
    .leftJoin('sites', 'sites.id', 'certificates.site_id')
    .select([
      'certificates.site_id',
      'certificates.revoked_at',
      'certificates.not_after',
      'sites.id',
      'sites.name',
      'sites.labels',
      'sites.lifecycle',
      'sites.connectivity',
      'sites.desired_digest',
      'sites.last_seen_at',
    ])
    .where('certificates.serial', '=', arg('serial')),
);

interface Remembered {
  serial: string;
  /** a snapshot a request may hold: replaced, never changed */
  site: AgentSite;
  notAfterMs: number;
  /** on the hub's clock, like everything below */
  readAtMs: number;
  /** the last contact the store or this hub knows of: the site stays Online until staleAfterMs after it */
  lastContactMs: number;
}

/**
 * The memory of certificates to sites. It keeps only certificates of Active, Online sites: the site's
 * connectivity travels with it (a contact makes a Stale site Online again), and it can have moved only
 * after `staleAfterMs` of silence (status/connectivity.ts), so an entry is trusted until then at most.
 *
 * Its desired digest is the one the watch last agreed to: every change the watch announces (this
 * hub's or another replica's) clears it, so a remembered site is never behind the watch's generation.
 */
export class CertificateSites {
  readonly #bySerial = new Map<string, Remembered>();
  readonly #serialsOf = new Map<string, Set<string>>();
  readonly #watch: DesiredWatch;
  readonly #now: () => Date;
  readonly #staleAfterMs: number;
  /** counts forgetting: a read that began before one may hold what was forgotten and is not kept */
  #forgot = 0;
  readonly #stopListening: () => void;
  readonly #forgetListeners = new Set<(siteIds: readonly string[] | 'all') => void>();

  constructor(watch: DesiredWatch, now: () => Date, staleAfterMs: number) {
    this.#watch = watch;
    this.#now = now;
    this.#staleAfterMs = staleAfterMs;
    this.#stopListening = watch.onChange((ids) => this.#digestsChanged(ids));
  }

  /**
   * The site a verified certificate (normalized serial hex) belongs to as it stands now, or why it is
   * refused; revocation and expiry are checked on every call.
   */
  async lookup(ctx: HubContext, serial: string): Promise<CertificateLookup> {
    return this.remembered(serial) ?? this.#read(ctx, serial);
  }

  /**
   * What `lookup` answers from memory alone, without a promise (an agent's every request on the hot
   * path); undefined when the certificate must be read.
   */
  remembered(serial: string): CertificateLookup | undefined {
    const known = this.#bySerial.get(serial);
    if (!known) return undefined;
    const now = this.#now().getTime();
    if (now >= known.notAfterMs) {
      this.#drop(known);
      return { refused: 'certificate expired' };
    }
    if (now < known.readAtMs + trustForMs && now < known.lastContactMs + this.#staleAfterMs) {
      return { siteId: known.site.id, site: known.site };
    }
    this.#drop(known);
    return undefined;
  }

  async #read(ctx: HubContext, serial: string): Promise<CertificateLookup> {
    const now = this.#now().getTime();
    const forgot = this.#forgot;
    const generation = this.#watch.generation;
    const [row] = (await certificateAndSite(ctx.store.db, { serial })).rows;
    if (!row) return { refused: 'unknown certificate' };
    if (row.revoked_at) return { refused: 'certificate revoked' };
    const notAfterMs = Date.parse(row.not_after);
    if (now >= notAfterMs) return { refused: 'certificate expired' };
    if (row.id === null) return { siteId: row.site_id, site: undefined };
    const site: AgentSite = {
      id: row.id,
      name: row.name!,
      labels: JSON.parse(row.labels!),
      lifecycle: row.lifecycle as Lifecycle,
      connectivity: row.connectivity as Connectivity,
      desiredDigest: row.desired_digest,
    };
    if (
      forgot === this.#forgot &&
      site.lifecycle === 'Active' &&
      site.connectivity === 'Online' &&
      row.last_seen_at !== null
    ) {
      this.#remember({
        serial,
        // a change announced while the row was read may be missing from it
        site: this.#watch.changedSince(site.id, generation) ? { ...site, desiredDigest: null } : site,
        notAfterMs,
        readAtMs: now,
        lastContactMs: Date.parse(row.last_seen_at),
      });
    }
    return { siteId: row.site_id, site };
  }

  /** The site's agent was heard from `at` (and it was Online): its remembered certificates stay trusted. */
  heard(siteId: string, at: Date): void {
    for (const serial of this.#serialsOf.get(siteId) ?? []) {
      const known = this.#bySerial.get(serial)!;
      known.lastContactMs = Math.max(known.lastContactMs, at.getTime());
    }
  }

  /**
   * A desired digest read for the site after the watch's `generation`: remembered unless the watch
   * announced a change since, so the agent's next poll with it needs no read.
   */
  learnDigest(siteId: string, digest: string, generation: number): void {
    if (this.#watch.changedSince(siteId, generation)) return;
    for (const serial of this.#serialsOf.get(siteId) ?? []) {
      const known = this.#bySerial.get(serial)!;
      if (known.site.desiredDigest !== digest) known.site = { ...known.site, desiredDigest: digest };
    }
  }

  /** Forgets the sites' certificates: what they are, their certificates or their lifecycle changed. */
  forget(siteIds: Iterable<string>): void {
    this.#forgot++;
    const ids = [...siteIds];
    for (const id of ids) {
      for (const serial of this.#serialsOf.get(id) ?? []) this.#drop(this.#bySerial.get(serial)!);
    }
    for (const listener of this.#forgetListeners) listener(ids);
  }

  /** Forgets everything: notifications from other replicas may have been missed. */
  clear(): void {
    this.#forgot++;
    this.#bySerial.clear();
    this.#serialsOf.clear();
    for (const listener of this.#forgetListeners) listener('all');
  }

  /**
   * Calls `listener` with the sites whose identity changed (this hub's change or another replica's), or
   * 'all' when notifications may have been missed, for regional relays' change feeds; returns what stops it.
   */
  onForget(listener: (siteIds: readonly string[] | 'all') => void): () => void {
    this.#forgetListeners.add(listener);
    return () => this.#forgetListeners.delete(listener);
  }

  get size(): number {
    return this.#bySerial.size;
  }

  close(): void {
    this.#stopListening();
    this.clear();
  }

  #digestsChanged(siteIds: readonly string[]): void {
    for (const id of siteIds) {
      for (const serial of this.#serialsOf.get(id) ?? []) {
        const known = this.#bySerial.get(serial)!;
        if (known.site.desiredDigest !== null) known.site = { ...known.site, desiredDigest: null };
      }
    }
  }

  #remember(entry: Remembered): void {
    const old = this.#bySerial.get(entry.serial);
    if (old) this.#drop(old);
    // entries are kept in the order they were read: the oldest lapse first, so each new one clears a few
    for (const oldest of [...this.#firstEntries(2)]) {
      if (this.#bySerial.size >= rememberedAtMost || entry.readAtMs >= oldest.readAtMs + trustForMs) {
        this.#drop(oldest);
      }
    }
    this.#bySerial.set(entry.serial, entry);
    const serials = this.#serialsOf.get(entry.site.id) ?? new Set();
    serials.add(entry.serial);
    this.#serialsOf.set(entry.site.id, serials);
  }

  *#firstEntries(n: number): Generator<Remembered> {
    let i = 0;
    for (const entry of this.#bySerial.values()) {
      if (i++ >= n) return;
      yield entry;
    }
  }

  #drop(entry: Remembered): void {
    this.#bySerial.delete(entry.serial);
    const serials = this.#serialsOf.get(entry.site.id);
    serials?.delete(entry.serial);
    if (serials?.size === 0) this.#serialsOf.delete(entry.site.id);
  }
}

/**
 * After the commit of a change to what the sites are to their agents (lifecycle, labels, name,
 * certificates): this hub forgets their certificates at once, and the other replicas are told.
 */
export function siteIdentityChanged(ctx: HubContext, siteIds: readonly string[]): void {
  if (siteIds.length === 0) return;
  ctx.certificateSites.forget(siteIds);
  ctx.coordination.publishSites(siteIds);
}
