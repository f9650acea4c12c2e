// The operator API (/api/v1): sites, bundles and fleet status, for the CLI, the dashboard and scripts.
// Every route needs the operator bearer token.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import {
  ApplyResult,
  BundleFiles,
  BundleView,
  ErrorBody,
  FleetStatus,
  SiteDetail,
  SitePatch,
  SiteView,
} from '../../model/wire.ts';
import { applyBundle, deleteBundle, getBundle, listBundles } from '../bundles/bundles.ts';
import type { HubContext } from '../context.ts';
import { bearerOf, sameSecret } from '../credentials.ts';
import { connectivityNow, listSites, patchSite, siteByName, siteView } from '../sites/sites.ts';
import { deploymentsOfSite } from '../status/reports.ts';
import { fleetStatus } from '../status/summary.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };
const NameParam = Type.Object({ name: Type.String() });

export function operatorRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', async (request) => {
      const token = bearerOf(request.headers.authorization);
      if (!token) throw new OutpostError('unauthorized', 'missing operator token (Authorization: Bearer …)');
      if (!sameSecret(token, ctx.config.operatorToken))
        throw new OutpostError('unauthorized', 'invalid operator token');
    });

    app.get(
      '/sites',
      {
        schema: {
          tags: ['sites'],
          response: { 200: Type.Object({ items: Type.Array(SiteView) }), ...errors },
        },
      },
      async () => ({ items: (await listSites(ctx)).map((s) => siteView(s, connectivityNow(ctx, s))) }),
    );

    app.get(
      '/sites/:name',
      { schema: { tags: ['sites'], params: NameParam, response: { 200: SiteDetail, ...errors } } },
      async (request) => {
        const site = await siteByName(ctx, request.params.name);
        return {
          ...siteView(site, connectivityNow(ctx, site)),
          deployments: await deploymentsOfSite(ctx, site),
        };
      },
    );

    app.patch(
      '/sites/:name',
      {
        schema: {
          tags: ['sites'],
          params: NameParam,
          body: SitePatch,
          response: { 200: SiteView, ...errors },
        },
      },
      async (request) => {
        const site = await patchSite(ctx, request.params.name, request.body);
        return siteView(site, connectivityNow(ctx, site));
      },
    );

    app.post(
      '/bundles/apply',
      {
        bodyLimit: 64 * 1024 * 1024,
        schema: { tags: ['bundles'], body: BundleFiles, response: { 200: ApplyResult, ...errors } },
      },
      async (request) => applyBundle(ctx, request.body),
    );

    app.get(
      '/bundles',
      {
        schema: {
          tags: ['bundles'],
          response: { 200: Type.Object({ items: Type.Array(BundleView) }), ...errors },
        },
      },
      async () => ({ items: await listBundles(ctx) }),
    );

    app.get(
      '/bundles/:name',
      { schema: { tags: ['bundles'], params: NameParam, response: { 200: BundleView, ...errors } } },
      async (request) => getBundle(ctx, request.params.name),
    );

    app.delete(
      '/bundles/:name',
      { schema: { tags: ['bundles'], params: NameParam, response: { 204: Type.Null(), ...errors } } },
      async (request, reply) => {
        await deleteBundle(ctx, request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/status',
      { schema: { tags: ['status'], response: { 200: FleetStatus, ...errors } } },
      async () => fleetStatus(ctx),
    );
  };
}
