// What placement decided one site should run, read back: the desired state its agent long-polls for, the
// rendered blobs placed on it (and on it alone), and one bundle's rendering for the dashboard.

import { OutpostError } from '../../model/errors.ts';
import type { DesiredState } from '../../model/wire.ts';
import { redactSecrets } from '../../render/redact.ts';
import { desiredDigest, type RenderedBundle } from '../../render/rendered.ts';
import type { HubContext } from '../context.ts';
import { type Site, siteFromRow } from '../sites/sites.ts';

export async function desiredState(ctx: HubContext, siteId: string): Promise<DesiredState> {
  const db = ctx.store.db;
  const row = await db.selectFrom('sites').selectAll().where('id', '=', siteId).executeTakeFirstOrThrow();
  const site = siteFromRow(row);
  const deployments = await db
    .selectFrom('deployments')
    .select(['bundle', 'desired_revision', 'desired_digest'])
    .where('site_id', '=', siteId)
    .where('desired_digest', 'is not', null)
    .orderBy('bundle')
    .execute();
  const list = deployments.map((d) => ({
    bundle: d.bundle,
    revision: Number(d.desired_revision),
    digest: d.desired_digest!,
  }));
  return { site: site.name, digest: site.desiredDigest ?? desiredDigest(list), deployments: list };
}

/** A rendered blob's JSON, for a site it is placed on: per-site renderings may hold per-site values. */
export async function placedBlob(ctx: HubContext, site: Site, digest: string): Promise<string> {
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
