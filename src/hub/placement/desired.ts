// What placement decided one site should run, read back: the desired state its agent long-polls for, the
// rendered blobs placed on it (and on it alone), and one bundle's rendering for the dashboard.

import { OutpostError } from '../../model/errors.ts';
import type { StackTarget } from '../../model/site-stack.ts';
import type { DesiredDeployment, DesiredState } from '../../model/wire.ts';
import { redactSecrets } from '../../render/redact.ts';
import { desiredDigest, type RenderedBundle } from '../../render/rendered.ts';
import type { HubContext } from '../context.ts';
import { loadTargets } from '../profiles/targets.ts';
import type { Site } from '../sites/sites.ts';
import type { Db } from '../store/schema.ts';

/** Sites per statement when desired states are read together. */
const readTogether = 500;

/**
 * A site's desired state as its agent receives it, whether read back or made by placement as it commits:
 * deployments in the order of their bundles' names as JavaScript compares them (the order the digest is
 * taken in), not the database's collation, so both ways give the same bytes.
 */
export function desiredStateOf(
  site: string,
  deployments: DesiredDeployment[],
  stack: StackTarget | undefined,
  digest?: string | null,
): DesiredState {
  deployments.sort((a, b) => (a.bundle < b.bundle ? -1 : a.bundle > b.bundle ? 1 : 0));
  return {
    site,
    digest: digest ?? desiredDigest(deployments, stack),
    deployments,
    ...(stack ? { stack } : {}),
  };
}

/**
 * The desired states of the given sites with the profile target each is given, read in two statements
 * per 500 (unknown sites are missing).
 */
export async function desiredStates(db: Db, siteIds: readonly string[]): Promise<Map<string, DesiredState>> {
  const out = new Map<string, DesiredState>();
  for (let i = 0; i < siteIds.length; i += readTogether) {
    const rows = await db
      .selectFrom('sites')
      .leftJoin('deployments', (j) =>
        j.onRef('deployments.site_id', '=', 'sites.id').on('deployments.desired_digest', 'is not', null),
      )
      .select([
        'sites.id',
        'sites.name',
        'sites.desired_digest as site_digest',
        'deployments.bundle',
        'deployments.desired_revision',
        'deployments.desired_digest',
      ])
      .where('sites.id', 'in', siteIds.slice(i, i + readTogether))
      .orderBy('sites.id')
      .execute();
    const read = new Map<string, { name: string; digest: string | null; deployments: DesiredDeployment[] }>();
    for (const r of rows) {
      let site = read.get(r.id);
      if (!site) {
        site = { name: r.name, digest: r.site_digest, deployments: [] };
        read.set(r.id, site);
      }
      if (r.bundle !== null) {
        site.deployments.push({
          bundle: r.bundle,
          revision: Number(r.desired_revision),
          digest: r.desired_digest!,
        });
      }
    }
    const targets = await loadTargets(db, [...read.keys()]);
    for (const [id, site] of read) {
      out.set(id, desiredStateOf(site.name, site.deployments, targets.get(id), site.digest));
    }
  }
  return out;
}

/**
 * Reads desired states for long-polls that ask together in one statement: a revision another replica
 * placed wakes thousands of them within moments (this process's placement hands its woken polls their
 * states instead), and a statement per poll was most of what each woken poll cost. Requests made in one
 * turn of the event loop share the next read.
 */
export class DesiredReader {
  readonly #db: Db;
  #queue = new Map<string, Array<{ resolve: (s: DesiredState) => void; reject: (e: unknown) => void }>>();

  constructor(db: Db) {
    this.#db = db;
  }

  read(siteId: string): Promise<DesiredState> {
    return new Promise((resolve, reject) => {
      if (this.#queue.size === 0) setImmediate(() => void this.#readQueued());
      const waiting = this.#queue.get(siteId) ?? [];
      waiting.push({ resolve, reject });
      this.#queue.set(siteId, waiting);
    });
  }

  async #readQueued(): Promise<void> {
    const queued = this.#queue;
    this.#queue = new Map();
    try {
      const states = await desiredStates(this.#db, [...queued.keys()]);
      for (const [id, waiting] of queued) {
        const state = states.get(id);
        for (const w of waiting) {
          if (state) w.resolve(state);
          else w.reject(new OutpostError('not_found', `no site ${id}`));
        }
      }
    } catch (e) {
      for (const waiting of queued.values()) for (const w of waiting) w.reject(e);
    }
  }
}

/** A rendered blob's JSON, for a site it is placed on: per-site renderings may hold per-site values. */
export async function placedBlob(
  ctx: HubContext,
  site: Pick<Site, 'id' | 'name'>,
  digest: string,
): Promise<string> {
  const placed = await ctx.store.db
    .selectFrom('deployments')
    .select('bundle')
    .where('site_id', '=', site.id)
    .where('desired_digest', '=', digest)
    .executeTakeFirst();
  if (!placed) throw new OutpostError('not_found', `no blob ${digest} is placed on site ${site.name}`);
  const blob = await ctx.store.db
    .selectFrom('blobs')
    .select('content')
    .where('digest', '=', digest)
    .executeTakeFirst();
  if (!blob) throw new OutpostError('not_found', `blob ${digest} is missing`);
  return blob.content;
}

export interface SiteRendering {
  site: string;
  bundle: string;
  revision: number | null;
  digest: string | null;
  renderError: string | null;
  objects: Record<string, unknown>[];
}

/**
 * The manifests one site gets from a bundle, as rendered for it (none when rendering failed), as an
 * operator may read them: Secret values shown as digests.
 */
export async function renderedForSite(ctx: HubContext, site: Site, bundle: string): Promise<SiteRendering> {
  const row = await ctx.store.db
    .selectFrom('deployments')
    .leftJoin('blobs', 'blobs.digest', 'deployments.desired_digest')
    .select(['desired_revision', 'desired_digest', 'render_error', 'blobs.content'])
    .where('site_id', '=', site.id)
    .where('bundle', '=', bundle)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `bundle ${bundle} is not placed on site ${site.name}`);
  const rendered = row.content ? (JSON.parse(row.content) as RenderedBundle) : undefined;
  return {
    site: site.name,
    bundle,
    revision: row.desired_revision === null ? null : Number(row.desired_revision),
    digest: row.desired_digest,
    renderError: row.render_error,
    objects: redactSecrets(rendered?.objects ?? []) as Record<string, unknown>[],
  };
}
