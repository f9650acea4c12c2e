// The small reads the web dashboard needs beyond the rest of the operator API: who the caller is (so the
// UI can hide what the role may not do), every site's coordinates in one compact answer for the map,
// and the rendered manifests one site gets from a bundle. All read-only, role viewer.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { roles } from '../../model/roles.ts';
import { ErrorBody } from '../../model/wire.ts';
import type { RenderedBundle } from '../../render/rendered.ts';
import { operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { siteByName } from '../sites/sites.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
const viewer = { role: 'viewer' as const };

export const WhoAmI = Type.Object({ tokenId: Type.String(), name: Type.String(), role: Type.Enum(roles) });

/**
 * Column arrays rather than one object per site: at 100,000 sites this is a few MB of JSON instead of
 * tens. `connectivity`, `state` and `lifecycle` are indexes into `dictionary`.
 */
export const SiteLocations = Type.Object({
  names: Type.Array(Type.String()),
  lat: Type.Array(Type.Number()),
  lon: Type.Array(Type.Number()),
  connectivity: Type.Array(Type.Integer()),
  state: Type.Array(Type.Integer()),
  lifecycle: Type.Array(Type.Integer()),
  dictionary: Type.Object({
    connectivity: Type.Array(Type.String()),
    state: Type.Array(Type.Union([Type.String(), Type.Null()])),
    lifecycle: Type.Array(Type.String()),
  }),
  /** sites (not decommissioned) with no usable lat/lon in their properties or facts */
  unplaced: Type.Integer(),
});

export const RenderedForSite = Type.Object({
  site: Type.String(),
  bundle: Type.String(),
  revision: Type.Union([Type.Integer(), Type.Null()]),
  digest: Type.Union([Type.String(), Type.Null()]),
  renderError: Type.Union([Type.String(), Type.Null()]),
  objects: Type.Array(Type.Record(Type.String(), Type.Unknown())),
});

function coordinate(v: unknown, limit: number): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && Math.abs(n) <= limit ? n : undefined;
}

/** Properties an operator set win over the facts the agent reported at registration. */
function locationOf(properties: string, facts: string): { lat: number; lon: number } | undefined {
  for (const text of [properties, facts]) {
    const o = JSON.parse(text) as Record<string, unknown>;
    const lat = coordinate(o.lat, 90);
    const lon = coordinate(o.lon, 180);
    if (lat !== undefined && lon !== undefined) return { lat, lon };
  }
  return undefined;
}

function indexer<T>(): { dict: T[]; of(v: T): number } {
  const dict: T[] = [];
  const seen = new Map<T, number>();
  return {
    dict,
    of(v) {
      let i = seen.get(v);
      if (i === undefined) {
        i = dict.length;
        dict.push(v);
        seen.set(v, i);
      }
      return i;
    },
  };
}

export function dashboardApiRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.get(
      '/whoami',
      {
        config: viewer,
        schema: {
          tags: ['access'],
          summary: 'The API token making this call: its name and role',
          response: { 200: WhoAmI, ...errors },
        },
      },
      async (request) => {
        const { tokenId, name, role } = request.operator!;
        return { tokenId, name, role };
      },
    );

    app.get(
      '/site-locations',
      {
        config: viewer,
        schema: {
          tags: ['sites'],
          summary: "Every site's coordinates and state, as column arrays (for maps)",
          response: { 200: SiteLocations, ...errors },
        },
      },
      async () => {
        const rows = await ctx.store.db
          .selectFrom('sites')
          .select(['name', 'properties', 'facts', 'connectivity', 'worst_state', 'lifecycle'])
          .where('lifecycle', '!=', 'Decommissioned')
          .orderBy('name')
          .execute();
        const connectivity = indexer<string>();
        const state = indexer<string | null>();
        const lifecycle = indexer<string>();
        const out = {
          names: [] as string[],
          lat: [] as number[],
          lon: [] as number[],
          connectivity: [] as number[],
          state: [] as number[],
          lifecycle: [] as number[],
          dictionary: { connectivity: connectivity.dict, state: state.dict, lifecycle: lifecycle.dict },
          unplaced: 0,
        };
        for (const r of rows) {
          const at = locationOf(r.properties, r.facts);
          if (!at) {
            out.unplaced++;
            continue;
          }
          out.names.push(r.name);
          out.lat.push(at.lat);
          out.lon.push(at.lon);
          out.connectivity.push(connectivity.of(r.connectivity));
          out.state.push(state.of(r.worst_state));
          out.lifecycle.push(lifecycle.of(r.lifecycle));
        }
        return out;
      },
    );

    app.get(
      '/bundles/:name/rendered',
      {
        config: viewer,
        schema: {
          tags: ['bundles'],
          summary: 'The manifests one site gets from this bundle, as rendered for it',
          params: Type.Object({ name: Type.String() }),
          querystring: Type.Object({ site: Type.String({ minLength: 1 }) }),
          response: { 200: RenderedForSite, ...errors },
        },
      },
      async (request) => {
        const site = await siteByName(ctx, request.query.site);
        const bundle = request.params.name;
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
          objects: (rendered?.objects ?? []) as Record<string, unknown>[],
        };
      },
    );
  };
}
