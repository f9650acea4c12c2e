// The operator API (/api/v1): sites and their approval, bundles, fleet status, bootstrap and API
// tokens, the audit log. Every route needs an API token and declares the least role it allows.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { encodeJoinToken } from '../../model/join-token.ts';
import {
  ApiTokenCreated,
  ApiTokenRequest,
  ApiTokenView,
  ApplyResult,
  ApproveRequest,
  AuditEntry,
  BootstrapTokenCreated,
  BootstrapTokenRequest,
  BootstrapTokenView,
  BundleFiles,
  BundleView,
  ErrorBody,
  FleetStatus,
  SiteDetail,
  SitePatch,
  SiteView,
} from '../../model/wire.ts';
import { listAudit } from '../audit/audit.ts';
import { actorOf, operatorAuth } from '../auth.ts';
import { applyBundle, deleteBundle, getBundle, listBundles } from '../bundles/bundles.ts';
import type { HubContext } from '../context.ts';
import { createApiToken, listApiTokens, revokeApiToken } from '../identity/api-tokens.ts';
import {
  createBootstrapToken,
  listBootstrapTokens,
  revokeBootstrapToken,
} from '../identity/bootstrap-tokens.ts';
import { approveSite, decommissionSite, rejectSite } from '../sites/registration.ts';
import { connectivityNow, listSites, patchSite, siteByName, siteView } from '../sites/sites.ts';
import { deploymentsOfSite } from '../status/reports.ts';
import { fleetStatus } from '../status/summary.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const NameParam = Type.Object({ name: Type.String() });
const IdParam = Type.Object({ id: Type.String() });
const viewer = { role: 'viewer' as const };
const operator = { role: 'operator' as const };
const admin = { role: 'admin' as const };

export function operatorRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.get(
      '/sites',
      {
        config: viewer,
        schema: {
          tags: ['sites'],
          response: { 200: Type.Object({ items: Type.Array(SiteView) }), ...errors },
        },
      },
      async () => ({ items: (await listSites(ctx)).map((s) => siteView(s, connectivityNow(ctx, s))) }),
    );

    app.get(
      '/sites/:name',
      {
        config: viewer,
        schema: { tags: ['sites'], params: NameParam, response: { 200: SiteDetail, ...errors } },
      },
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
        config: operator,
        schema: {
          tags: ['sites'],
          params: NameParam,
          body: SitePatch,
          response: { 200: SiteView, ...errors },
        },
      },
      async (request) => {
        const site = await patchSite(ctx, actorOf(request), request.params.name, request.body);
        return siteView(site, connectivityNow(ctx, site));
      },
    );

    app.post(
      '/sites/:name/approve',
      {
        config: operator,
        schema: {
          tags: ['sites'],
          params: NameParam,
          body: ApproveRequest,
          response: { 200: SiteView, ...errors },
        },
      },
      async (request) => {
        const site = await approveSite(ctx, actorOf(request), request.params.name, request.body);
        return siteView(site, connectivityNow(ctx, site));
      },
    );

    app.post(
      '/sites/:name/reject',
      {
        config: operator,
        schema: { tags: ['sites'], params: NameParam, response: { 204: Type.Null(), ...errors } },
      },
      async (request, reply) => {
        await rejectSite(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/sites/:name/decommission',
      {
        config: admin,
        schema: { tags: ['sites'], params: NameParam, response: { 200: SiteView, ...errors } },
      },
      async (request) => {
        const site = await decommissionSite(ctx, actorOf(request), request.params.name);
        return siteView(site, connectivityNow(ctx, site));
      },
    );

    app.post(
      '/bundles/apply',
      {
        config: operator,
        bodyLimit: 64 * 1024 * 1024,
        schema: { tags: ['bundles'], body: BundleFiles, response: { 200: ApplyResult, ...errors } },
      },
      async (request) => applyBundle(ctx, actorOf(request), request.body),
    );

    app.get(
      '/bundles',
      {
        config: viewer,
        schema: {
          tags: ['bundles'],
          response: { 200: Type.Object({ items: Type.Array(BundleView) }), ...errors },
        },
      },
      async () => ({ items: await listBundles(ctx) }),
    );

    app.get(
      '/bundles/:name',
      {
        config: viewer,
        schema: { tags: ['bundles'], params: NameParam, response: { 200: BundleView, ...errors } },
      },
      async (request) => getBundle(ctx, request.params.name),
    );

    app.delete(
      '/bundles/:name',
      {
        config: operator,
        schema: { tags: ['bundles'], params: NameParam, response: { 204: Type.Null(), ...errors } },
      },
      async (request, reply) => {
        await deleteBundle(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/status',
      { config: viewer, schema: { tags: ['status'], response: { 200: FleetStatus, ...errors } } },
      async () => fleetStatus(ctx),
    );

    app.post(
      '/bootstrap-tokens',
      {
        config: admin,
        schema: {
          tags: ['access'],
          body: BootstrapTokenRequest,
          response: { 201: BootstrapTokenCreated, ...errors },
        },
      },
      async (request, reply) => {
        const { token, view } = await createBootstrapToken(ctx, actorOf(request), request.body);
        const joinToken = encodeJoinToken({ hub: ctx.config.publicUrl, caSha256: ctx.tls.caSha256, token });
        return reply.status(201).send({ joinToken, token: view });
      },
    );

    app.get(
      '/bootstrap-tokens',
      {
        config: admin,
        schema: {
          tags: ['access'],
          response: { 200: Type.Object({ items: Type.Array(BootstrapTokenView) }), ...errors },
        },
      },
      async () => ({ items: await listBootstrapTokens(ctx) }),
    );

    app.delete(
      '/bootstrap-tokens/:id',
      {
        config: admin,
        schema: { tags: ['access'], params: IdParam, response: { 204: Type.Null(), ...errors } },
      },
      async (request, reply) => {
        await revokeBootstrapToken(ctx, actorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api-tokens',
      {
        config: admin,
        schema: { tags: ['access'], body: ApiTokenRequest, response: { 201: ApiTokenCreated, ...errors } },
      },
      async (request, reply) => {
        const { token, view } = await createApiToken(
          ctx,
          actorOf(request),
          request.body.name,
          request.body.role,
        );
        return reply.status(201).send({ token, apiToken: view });
      },
    );

    app.get(
      '/api-tokens',
      {
        config: admin,
        schema: {
          tags: ['access'],
          response: { 200: Type.Object({ items: Type.Array(ApiTokenView) }), ...errors },
        },
      },
      async () => ({ items: await listApiTokens(ctx) }),
    );

    app.delete(
      '/api-tokens/:id',
      {
        config: admin,
        schema: { tags: ['access'], params: IdParam, response: { 204: Type.Null(), ...errors } },
      },
      async (request, reply) => {
        await revokeApiToken(ctx, actorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/audit',
      {
        config: admin,
        schema: {
          tags: ['access'],
          querystring: Type.Object({
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            before: Type.Optional(Type.String()),
            action: Type.Optional(Type.String()),
          }),
          response: { 200: Type.Object({ items: Type.Array(AuditEntry) }), ...errors },
        },
      },
      async (request) => ({
        items: await listAudit(ctx, {
          limit: request.query.limit ?? 100,
          before: request.query.before,
          action: request.query.action,
        }),
      }),
    );
  };
}
