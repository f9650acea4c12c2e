// The small reads the web dashboard needs beyond the rest of the operator API: who the caller is (so the
// UI can hide what the role may not do), every site's coordinates in one compact answer for the map,
// and the rendered manifests one site gets from a bundle. All read-only, role viewer.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { roles } from '../../model/roles.ts';
import { ErrorBody, RoleBinding } from '../../model/wire.ts';
import { assertSiteReach, withinOf } from '../access/reach.ts';
import { operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { renderedForSite } from '../placement/desired.ts';
import { siteLocations } from '../sites/locations.ts';
import { siteByName } from '../sites/sites.ts';
import { operatorRoute, reaching } from './operator-route.ts';

/** read-only: nothing here can conflict */
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

export const WhoAmI = Type.Object({
  tokenId: Type.String(),
  name: Type.String(),
  role: Type.Enum(roles),
  /** what the token reaches: roles over sites (a selector) and bundles (a team) */
  bindings: Type.Array(RoleBinding),
});

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

export function dashboardApiRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.get(
      '/whoami',
      reaching(
        'sites',
        operatorRoute(
          'viewer',
          'access',
          { summary: 'The API token making this call: its name, role and reach', response: { 200: WhoAmI } },
          errors,
        ),
      ),
      async (request) => {
        const { tokenId, name, role, bindings } = request.operator!;
        return { tokenId, name, role, bindings };
      },
    );

    app.get(
      '/site-locations',
      reaching(
        'sites',
        operatorRoute(
          'viewer',
          'sites',
          {
            summary: "Every site's coordinates and state, as column arrays (for maps)",
            response: { 200: SiteLocations },
          },
          errors,
        ),
      ),
      async (request) => siteLocations(ctx, withinOf(request)),
    );

    app.get(
      '/bundles/:name/rendered',
      reaching(
        'sites',
        operatorRoute(
          'viewer',
          'bundles',
          {
            summary: 'The manifests one site gets from this bundle, as rendered for it',
            params: Type.Object({ name: Type.String() }),
            querystring: Type.Object({ site: Type.String({ minLength: 1 }) }),
            response: { 200: RenderedForSite },
          },
          errors,
        ),
      ),
      async (request) => {
        await assertSiteReach(ctx, request, request.query.site, 'viewer');
        return renderedForSite(ctx, await siteByName(ctx, request.query.site), request.params.name);
      },
    );
  };
}
