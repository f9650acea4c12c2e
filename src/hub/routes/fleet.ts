// The operator API for fleet definitions (/api/v1): git sources and their syncs, plan, and explain.
// Same bearer tokens and least-role declarations as the rest of the operator API.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  Explanation,
  PlanRequest,
  PlanResult,
  SourceCreated,
  SourceRequest,
  SourceView,
  SyncResult,
} from '../../model/fleet-wire.ts';
import { ErrorBody } from '../../model/wire.ts';
import { assertMayChangeBundle, assertSiteReach } from '../access/reach.ts';
import { actorOf, operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { explainBundle, planChanges } from '../placement/preview.ts';
import {
  addSource,
  deleteSource,
  listSources,
  sourceRow,
  sourceView,
  syncSource,
} from '../sources/sources.ts';
import { operatorErrors, operatorRoute, reaching } from './operator-route.ts';

/** a sync reaches a git remote, which may fail on its side */
const errors = { ...operatorErrors, 502: ErrorBody };
const NameParam = Type.Object({ name: Type.String() });

export function fleetRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.post(
      '/sources',
      operatorRoute('admin', 'sources', { body: SourceRequest, response: { 201: SourceCreated } }, errors),
      async (request, reply) => {
        const { view, webhookSecret } = await addSource(ctx, actorOf(request), request.body);
        return reply.status(201).send({ source: view, webhookSecret });
      },
    );

    app.get(
      '/sources',
      operatorRoute(
        'viewer',
        'sources',
        { response: { 200: Type.Object({ items: Type.Array(SourceView) }) } },
        errors,
      ),
      async () => ({ items: await listSources(ctx) }),
    );

    app.get(
      '/sources/:name',
      operatorRoute('viewer', 'sources', { params: NameParam, response: { 200: SourceView } }, errors),
      async (request) => sourceView(await sourceRow(ctx, request.params.name)),
    );

    app.delete(
      '/sources/:name',
      operatorRoute('admin', 'sources', { params: NameParam, response: { 204: Type.Null() } }, errors),
      async (request, reply) => {
        await deleteSource(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/sources/:name/sync',
      reaching(
        'bundles',
        operatorRoute(
          'operator',
          'sources',
          {
            params: NameParam,
            querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }),
            response: { 200: SyncResult },
          },
          errors,
        ),
      ),
      async (request) => {
        const source = await sourceRow(ctx, request.params.name);
        assertMayChangeBundle(request, `the bundles of source ${source.name}`, source.team ?? null);
        return syncSource(ctx, actorOf(request), source.name, { force: request.query.force ?? false });
      },
    );

    app.post(
      '/plan',
      {
        ...operatorRoute('viewer', 'bundles', { body: PlanRequest, response: { 200: PlanResult } }, errors),
        bodyLimit: 64 * 1024 * 1024,
      },
      async (request) => planChanges(ctx, request.body),
    );

    app.get(
      '/bundles/:name/explain',
      reaching(
        'sites',
        operatorRoute(
          'viewer',
          'bundles',
          {
            params: NameParam,
            querystring: Type.Object({ site: Type.String({ minLength: 1 }) }),
            response: { 200: Explanation },
          },
          errors,
        ),
      ),
      async (request) => {
        await assertSiteReach(ctx, request, request.query.site, 'viewer');
        return explainBundle(ctx, request.params.name, request.query.site);
      },
    );
  };
}
