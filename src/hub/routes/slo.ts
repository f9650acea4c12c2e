// The SLO and SLI API (/api/v1): SLOs per bundle (create or replace by name, read, delete) and a site's
// SLI series. Same bearer tokens and least-role declarations as the rest of the operator API.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { SiteSlis, SloDetail, SloSpec, SloView } from '../../model/slo-wire.ts';
import { ErrorBody } from '../../model/wire.ts';
import { actorOf, operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { applySlo, deleteSlo, listSlos, siteSlis, sloDetail, sloView } from '../slo/slos.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const NameParam = Type.Object({ name: Type.String() });
const viewer = { role: 'viewer' as const };
const operator = { role: 'operator' as const };

export function sloRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.get(
      '/slos',
      {
        config: viewer,
        schema: { tags: ['slos'], response: { 200: Type.Object({ items: Type.Array(SloView) }), ...errors } },
      },
      async () => ({ items: await listSlos(ctx) }),
    );

    app.post(
      '/slos',
      {
        config: operator,
        schema: { tags: ['slos'], body: SloSpec, response: { 200: SloView, 201: SloView, ...errors } },
      },
      async (request, reply) => {
        const { created } = await applySlo(ctx, actorOf(request), request.body);
        return reply.status(created ? 201 : 200).send(await sloView(ctx, request.body.name));
      },
    );

    app.get(
      '/slos/:name',
      {
        config: viewer,
        schema: { tags: ['slos'], params: NameParam, response: { 200: SloDetail, ...errors } },
      },
      async (request) => sloDetail(ctx, request.params.name),
    );

    app.delete(
      '/slos/:name',
      {
        config: operator,
        schema: { tags: ['slos'], params: NameParam, response: { 204: Type.Null(), ...errors } },
      },
      async (request, reply) => {
        await deleteSlo(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/sites/:name/slis',
      {
        config: viewer,
        schema: {
          tags: ['slos'],
          params: NameParam,
          querystring: Type.Object({ since: Type.Optional(Type.String({ description: 'ISO time' })) }),
          response: { 200: SiteSlis, ...errors },
        },
      },
      async (request) => {
        const { since } = request.query;
        const at = since === undefined ? undefined : new Date(since);
        if (at && Number.isNaN(at.getTime())) {
          throw new OutpostError('request_invalid', `since "${since}" is not an ISO time`);
        }
        return siteSlis(ctx, request.params.name, at);
      },
    );
  };
}
