// The operator API (/api/v1): sites, bundles, fleet status, queries, attention and events, for the
// CLI, the dashboard and scripts. Every route needs the operator bearer token.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { eventTypes } from '../../model/event.ts';
import {
  ApplyResult,
  AttentionItem,
  BundleFiles,
  BundleView,
  ErrorBody,
  EventList,
  FleetStatus,
  QueryRequest,
  QueryResult,
  SiteDetail,
  SitePatch,
  SiteView,
} from '../../model/wire.ts';
import { applyBundle, deleteBundle, getBundle, listBundles } from '../bundles/bundles.ts';
import type { HubContext } from '../context.ts';
import { bearerOf, sameSecret } from '../credentials.ts';
import { listSites, patchSite, siteByName, siteView } from '../sites/sites.ts';
import { attentionList } from '../status/attention.ts';
import { eventsAfter, latestEvents } from '../status/events.ts';
import { planQuery } from '../status/query-plan.ts';
import { runQuery } from '../status/query-sql.ts';
import { deploymentsOfSite } from '../status/reports.ts';
import { fleetStatus } from '../status/summary.ts';
import { streamEvents } from './event-stream.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };
const NameParam = Type.Object({ name: Type.String() });
const siteEventsShown = 50;
const EventFilterQuery = {
  site: Type.Optional(Type.String({ description: 'only events about this site' })),
  type: Type.Optional(
    Type.Array(Type.Enum(eventTypes), { description: 'only these types (repeat the parameter)' }),
  ),
};

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
      async () => ({ items: (await listSites(ctx)).map(siteView) }),
    );

    app.get(
      '/sites/:name',
      { schema: { tags: ['sites'], params: NameParam, response: { 200: SiteDetail, ...errors } } },
      async (request) => {
        const site = await siteByName(ctx, request.params.name);
        const attention = await ctx.store.db
          .selectFrom('sites')
          .select(['attention_reason', 'attention_detail', 'attention_since'])
          .where('id', '=', site.id)
          .executeTakeFirstOrThrow();
        const events = await latestEvents(ctx, { site: site.name }, siteEventsShown + 1);
        return {
          ...siteView(site),
          deployments: await deploymentsOfSite(ctx, site),
          attention: attention.attention_reason
            ? {
                reason: attention.attention_reason,
                detail: attention.attention_detail ?? '',
                since: attention.attention_since ?? '',
              }
            : null,
          events: events.slice(-siteEventsShown),
          moreEvents: events.length > siteEventsShown,
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
        return siteView(await patchSite(ctx, request.params.name, request.body));
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

    app.post(
      '/query',
      {
        schema: {
          tags: ['status'],
          summary: 'Query the fleet: filter, group, aggregate, sort and page sites',
          description:
            "Filters: `selector` (Kubernetes label selector), `connectivity`, `lifecycle`, `state`, `bundle`, `revision` and `where` (see its schema). Without `groupBy` the result lists sites in pages of `limit` with a keyset `nextCursor` (stable while the fleet changes); with `groupBy` it returns groups with `count` and any `sum|avg|min|max(property:KEY)`. Naming a `bundle` (or grouping by bundle or revision) makes `state` and `revision` those of the deployment; otherwise `state` is the site's worst state.",
          body: QueryRequest,
          response: { 200: QueryResult, ...errors },
        },
      },
      async (request) => runQuery(ctx, planQuery(request.body)),
    );

    app.get(
      '/attention',
      {
        schema: {
          tags: ['status'],
          summary: 'The sites that most need attention, with the reason',
          description:
            'Most urgent reason first (Failed, Drifted, Expired, Offline, NotReady, Stale), then the longest-standing.',
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
          response: { 200: Type.Object({ items: Type.Array(AttentionItem) }), ...errors },
        },
      },
      async (request) => ({ items: await attentionList(ctx, request.query.limit ?? 20) }),
    );

    app.get(
      '/events',
      {
        schema: {
          tags: ['events'],
          summary: 'Events, oldest first',
          description:
            'With `after`, the events after that id (page on with `lastId`); without it, the latest `limit` events.',
          querystring: Type.Object({
            after: Type.Optional(Type.Integer({ minimum: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            ...EventFilterQuery,
          }),
          response: { 200: EventList, ...errors },
        },
      },
      async (request) => {
        const { after, limit = 100, site, type } = request.query;
        const filter = { ...(site !== undefined ? { site } : {}), ...(type ? { type } : {}) };
        const items =
          after === undefined
            ? await latestEvents(ctx, filter, limit)
            : await eventsAfter(ctx, after, filter, limit);
        return { items, lastId: items[items.length - 1]?.id ?? after ?? 0 };
      },
    );

    app.get(
      '/events/stream',
      {
        schema: {
          tags: ['events'],
          summary: 'Events as Server-Sent Events (text/event-stream)',
          description:
            'Each event is `id: N`, `event: TYPE`, `data: JSON`. Resumes after the Last-Event-ID header or `after`; otherwise starts with the next event. Comment lines keep the connection alive.',
          querystring: Type.Object({
            after: Type.Optional(Type.Integer({ minimum: 0 })),
            ...EventFilterQuery,
          }),
          produces: ['text/event-stream'],
        },
      },
      async (request, reply) => {
        const { after, site, type } = request.query;
        const filter = { ...(site !== undefined ? { site } : {}), ...(type ? { type } : {}) };
        await streamEvents(ctx, request, reply, filter, after);
      },
    );
  };
}
