// What the agent keeps on its own disk so that it can enforce the last desired state with the hub out
// of reach, and after a restart: its identity, the desired state, the blobs it names (content-addressed,
// so one copy per digest), and per bundle the inventory of objects it created and its deployment record
// (what is applied, the last-known-good revision, a rollback). Every write is atomic (write, fsync,
// rename); the report outbox lives beside them (outbox.ts).

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeletionPolicy } from '../../model/apply-options.ts';
import type { ObjectRef } from '../../model/manifest.ts';
import type { DesiredState } from '../../model/wire.ts';
import { sha256Digest } from '../../render/digest.ts';
import type { RenderedBundle } from '../../render/rendered.ts';

export interface Identity {
  hub: string;
  siteId: string;
  name: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** regional relays the join token listed: the site's calls go to them first */
  relays?: string[];
  /** the release key pinned from the join token: agent releases must be signed with it */
  releaseKey?: string;
}

/** Registered but not yet approved: what the agent needs to collect its certificate later. */
export interface PendingRegistration {
  hub: string;
  siteId: string;
  name: string;
  caPem: string;
  keyPem: string;
  ticket: string;
  relays?: string[];
  releaseKey?: string;
}

export interface Inventory {
  bundle: string;
  objects: ObjectRef[];
  /** how these objects go when the bundle leaves the site (the policy they were applied under) */
  deletionPolicy?: DeletionPolicy;
}

/** What the agent knows about one bundle on this site beyond its inventory. */
export interface DeploymentRecord {
  bundle: string;
  /** the digest last applied in full: the desired one, or the last-known-good after a rollback */
  applied?: string;
  /** a revision on its way to Ready; a pessimistic deadline counts from `since` (ISO time) */
  progressing?: { digest: string; since: string };
  /** the last digest that was Ready here; its blob is kept even when no longer desired */
  lastKnownGood?: string;
  /** a digest that missed its deadline and was rolled back; not tried again while it stays desired */
  rolledBack?: { digest: string; to: string; message: string };
}

export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const safeName = (bundle: string) => bundle.replace(/[^a-z0-9-]/g, '_');

export class LocalState {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(dir: string): Promise<LocalState> {
    await mkdir(join(dir, 'blobs'), { recursive: true, mode: 0o700 });
    await mkdir(join(dir, 'inventory'), { recursive: true, mode: 0o700 });
    await mkdir(join(dir, 'deployments'), { recursive: true, mode: 0o700 });
    return new LocalState(dir);
  }

  identity(): Promise<Identity | undefined> {
    return readJson(join(this.dir, 'identity.json'));
  }

  saveIdentity(id: Identity): Promise<void> {
    return writeAtomic(join(this.dir, 'identity.json'), JSON.stringify(id));
  }

  pending(): Promise<PendingRegistration | undefined> {
    return readJson(join(this.dir, 'pending.json'));
  }

  savePending(p: PendingRegistration): Promise<void> {
    return writeAtomic(join(this.dir, 'pending.json'), JSON.stringify(p));
  }

  clearPending(): Promise<void> {
    return rm(join(this.dir, 'pending.json'), { force: true });
  }

  /** A machine id of the agent's own, for hosts without /etc/machine-id; made once and kept. */
  async machineId(make: () => string): Promise<string> {
    const path = join(this.dir, machineIdFile);
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const id = make();
      await writeAtomic(path, id);
      return id;
    }
  }

  desired(): Promise<DesiredState | undefined> {
    return readJson(join(this.dir, 'desired.json'));
  }

  saveDesired(d: DesiredState): Promise<void> {
    return writeAtomic(join(this.dir, 'desired.json'), JSON.stringify(d));
  }

  /** A cached blob, verified against its digest so a corrupted file is never applied. */
  async blob(digest: string): Promise<RenderedBundle | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'blobs', `${digest.replace(':', '_')}.json`), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return sha256Digest(text) === digest ? (JSON.parse(text) as RenderedBundle) : undefined;
  }

  saveBlob(digest: string, text: string): Promise<void> {
    return writeAtomic(join(this.dir, 'blobs', `${digest.replace(':', '_')}.json`), text);
  }

  /** Drops cached blobs nobody needs: neither desired nor applied nor last-known-good. */
  async pruneBlobs(keep: ReadonlySet<string>): Promise<void> {
    for (const f of await readdir(join(this.dir, 'blobs'))) {
      if (!f.endsWith('.json')) continue; // a temp file of a write in progress
      const digest = f.replace(/\.json$/, '').replace('_', ':');
      if (!keep.has(digest)) await rm(join(this.dir, 'blobs', f), { force: true });
    }
  }

  /** When the hub last answered, as last saved (for the local page after a restart while cut off). */
  async lastContact(): Promise<Date | undefined> {
    const saved = await readJson<{ at: string }>(join(this.dir, 'hub-contact.json'));
    return saved ? new Date(saved.at) : undefined;
  }

  saveLastContact(at: Date): Promise<void> {
    return writeAtomic(join(this.dir, 'hub-contact.json'), JSON.stringify({ at: at.toISOString() }));
  }

  records(): Promise<DeploymentRecord[]> {
    return this.#readAll('deployments');
  }

  saveRecord(record: DeploymentRecord): Promise<void> {
    return writeAtomic(
      join(this.dir, 'deployments', `${safeName(record.bundle)}.json`),
      JSON.stringify(record),
    );
  }

  removeRecord(bundle: string): Promise<void> {
    return rm(join(this.dir, 'deployments', `${safeName(bundle)}.json`), { force: true });
  }

  inventories(): Promise<Inventory[]> {
    return this.#readAll('inventory');
  }

  saveInventory(inv: Inventory): Promise<void> {
    return writeAtomic(join(this.dir, 'inventory', `${safeName(inv.bundle)}.json`), JSON.stringify(inv));
  }

  removeInventory(bundle: string): Promise<void> {
    return rm(join(this.dir, 'inventory', `${safeName(bundle)}.json`), { force: true });
  }

  /** Every document of one folder (records, inventories), skipping temp files of writes in progress. */
  async #readAll<T>(folder: string): Promise<T[]> {
    const out: T[] = [];
    for (const f of await readdir(join(this.dir, folder))) {
      if (!f.endsWith('.json')) continue;
      const doc = await readJson<T>(join(this.dir, folder, f));
      if (doc) out.push(doc);
    }
    return out;
  }
}

/** the agent's own machine id: a factory reset keeps it, so the hub knows the machine again */
export const machineIdFile = 'machine-id';

/**
 * A factory reset: everything the agent knows goes (desired state, blobs, inventories, outbox,
 * telemetry, sealing key, identity) except `keep` (names in the directory), so it joins again afresh.
 */
export async function wipeLocalState(dir: string, keep: readonly string[]): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!keep.includes(name)) await rm(join(dir, name), { recursive: true, force: true });
  }
}
