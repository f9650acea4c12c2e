// The SLO and SLI API (/api/v1): SLOs per bundle (create or replace by name, read, delete) and a site's
// SLI series. Same bearer tokens and least-role declarations as the rest of the operator API.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { selectionWithinReach } from '../../model/access.ts';
import { OutpostError } from '../../model/errors.ts';
import { SiteSlis, SloDetail, SloSpec, SloView } from '../../model/slo-wire.ts';
import { assertMayChangeBundle, assertSiteReach, bundleOwner } from '../access/reach.ts';
import { actorOf, operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { applySlo, deleteSlo, listSlos, siteSlis, sloDetail, sloView } from '../slo/slos.ts';
import { operatorRoute, reaching } from './operator-route.ts';

const NameParam = Type.Object({ name: Type.String() });

export function sloRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.get(
      '/slos',
      reaching(
        'sites',
        operatorRoute('viewer', 'slos', { response: { 200: Type.Object({ items: Type.Array(SloView) }) } }),
      ),
      // a scoped token sees the SLOs whose sites surely lie inside its reach, and no other
      async (request) => ({
        items: (await listSlos(ctx)).filter((slo) =>
          selectionWithinReach(request.operator!.bindings, 'viewer', slo.selector),
        ),
      }),
    );

    app.post(
      '/slos',
      reaching(
        'bundles',
        operatorRoute('operator', 'slos', { body: SloSpec, response: { 200: SloView, 201: SloView } }),
      ),
      async (request, reply) => {
        const { bundle } = request.body;
        assertMayChangeBundle(request, `bundle ${bundle}`, await bundleOwner(ctx, bundle));
        const { created } = await applySlo(ctx, actorOf(request), request.body);
        return reply.status(created ? 201 : 200).send(await sloView(ctx, request.body.name));
      },
    );

    app.get(
      '/slos/:name',
      reaching('sites', operatorRoute('viewer', 'slos', { params: NameParam, response: { 200: SloDetail } })),
      async (request) => {
        const detail = await sloDetail(ctx, request.params.name);
        if (!selectionWithinReach(request.operator!.bindings, 'viewer', detail.selector)) {
          throw new OutpostError(
            'forbidden',
            `SLO ${detail.name} counts sites outside the reach of token ${request.operator!.name}`,
          );
        }
        return detail;
      },
    );

    app.delete(
      '/slos/:name',
      reaching(
        'bundles',
        operatorRoute('operator', 'slos', { params: NameParam, response: { 204: Type.Null() } }),
      ),
      async (request, reply) => {
        const { bundle } = await sloView(ctx, request.params.name);
        assertMayChangeBundle(request, `bundle ${bundle}`, await bundleOwner(ctx, bundle));
        await deleteSlo(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/sites/:name/slis',
      reaching(
        'sites',
        operatorRoute('viewer', 'slos', {
          params: NameParam,
          querystring: Type.Object({ since: Type.Optional(Type.String({ description: 'ISO time' })) }),
          response: { 200: SiteSlis },
        }),
      ),
      async (request) => {
        await assertSiteReach(ctx, request, request.params.name, 'viewer');
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
