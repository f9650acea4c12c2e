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

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  502: ErrorBody,
};
const NameParam = Type.Object({ name: Type.String() });
const viewer = { role: 'viewer' as const };
const operator = { role: 'operator' as const };
const admin = { role: 'admin' as const };

export function fleetRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.post(
      '/sources',
      {
        config: admin,
        schema: { tags: ['sources'], body: SourceRequest, response: { 201: SourceCreated, ...errors } },
      },
      async (request, reply) => {
        const { view, webhookSecret } = await addSource(ctx, actorOf(request), request.body);
        return reply.status(201).send({ source: view, webhookSecret });
      },
    );

    app.get(
      '/sources',
      {
        config: viewer,
        schema: {
          tags: ['sources'],
          response: { 200: Type.Object({ items: Type.Array(SourceView) }), ...errors },
        },
      },
      async () => ({ items: await listSources(ctx) }),
    );

    app.get(
      '/sources/:name',
      {
        config: viewer,
        schema: { tags: ['sources'], params: NameParam, response: { 200: SourceView, ...errors } },
      },
      async (request) => sourceView(await sourceRow(ctx, request.params.name)),
    );

    app.delete(
      '/sources/:name',
      {
        config: admin,
        schema: { tags: ['sources'], params: NameParam, response: { 204: Type.Null(), ...errors } },
      },
      async (request, reply) => {
        await deleteSource(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/sources/:name/sync',
      {
        config: operator,
        schema: {
          tags: ['sources'],
          params: NameParam,
          querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }),
          response: { 200: SyncResult, ...errors },
        },
      },
      async (request) =>
        syncSource(ctx, actorOf(request), request.params.name, { force: request.query.force ?? false }),
    );

    app.post(
      '/plan',
      {
        config: viewer,
        bodyLimit: 64 * 1024 * 1024,
        schema: { tags: ['bundles'], body: PlanRequest, response: { 200: PlanResult, ...errors } },
      },
      async (request) => planChanges(ctx, request.body),
    );

    app.get(
      '/bundles/:name/explain',
      {
        config: viewer,
        schema: {
          tags: ['bundles'],
          params: NameParam,
          querystring: Type.Object({ site: Type.String({ minLength: 1 }) }),
          response: { 200: Explanation, ...errors },
        },
      },
      async (request) => explainBundle(ctx, request.params.name, request.query.site),
    );
  };
}
