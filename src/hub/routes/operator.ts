// The operator API (/api/v1): sites and their approval, bundles, fleet status, queries, attention and
// events, bootstrap and API tokens, the audit log. Every route needs an API token and declares the
// least role it allows.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { mayCreateBundle, teamOfNewBundle } from '../../model/access.ts';
import { eventTypes } from '../../model/event.ts';
import { encodeJoinToken } from '../../model/join-token.ts';
import {
  ApiTokenCreated,
  ApiTokenRequest,
  ApiTokenView,
  ApplyResult,
  ApproveRequest,
  AttentionItem,
  AuditEntry,
  BootstrapTokenCreated,
  BootstrapTokenRequest,
  BootstrapTokenView,
  BundleFiles,
  BundleView,
  EventList,
  FleetStatus,
  QueryRequest,
  QueryResult,
  RolloutActionRequest,
  RolloutDetail,
  RolloutRequest,
  RolloutView,
  SiteDetail,
  SitePatch,
  SiteView,
  StrategyRequest,
  StrategyView,
} from '../../model/wire.ts';
import { compactPublicKey } from '../../pki/release-key.ts';
import {
  assertLabelsWithinReach,
  assertMayChangeBundle,
  assertSiteReach,
  bundleOwner,
  withinOf,
} from '../access/reach.ts';
import { fleetStatusWithin } from '../access/scoped-status.ts';
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
import { tickRollout } from '../rollout/controller.ts';
import { bundleRollouts, queueRolloutAction, rolloutRow } from '../rollout/rollout-store.ts';
import { listRollouts, rolloutDetail, startRollout } from '../rollout/rollouts.ts';
import { applyStrategy, deleteStrategy, getStrategy, listStrategies } from '../rollout/strategies.ts';
import { approveSite, decommissionSite, rejectSite } from '../sites/registration.ts';
import { listSites, patchSite, siteByName, siteView } from '../sites/sites.ts';
import { attentionList, attentionOf } from '../status/attention.ts';
import { eventsAfter, latestEvents } from '../status/events.ts';
import { planQuery } from '../status/query-plan.ts';
import { runQuery } from '../status/query-sql.ts';
import { deploymentsOfSite } from '../status/reports.ts';
import { fleetStatus } from '../status/summary.ts';
import { streamEvents } from './event-stream.ts';
import { operatorRoute, reaching } from './operator-route.ts';

const NameParam = Type.Object({ name: Type.String() });
const IdParam = Type.Object({ id: Type.String() });
const siteEventsShown = 50;
const EventFilterQuery = {
  site: Type.Optional(Type.String({ description: 'only events about this site' })),
  type: Type.Optional(
    Type.Array(Type.Enum(eventTypes), { description: 'only these types (repeat the parameter)' }),
  ),
};

export function operatorRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.get(
      '/sites',
      reaching(
        'sites',
        operatorRoute('viewer', 'sites', { response: { 200: Type.Object({ items: Type.Array(SiteView) }) } }),
      ),
      async (request) => ({ items: (await listSites(ctx, withinOf(request))).map(siteView) }),
    );

    app.get(
      '/sites/:name',
      reaching(
        'sites',
        operatorRoute('viewer', 'sites', { params: NameParam, response: { 200: SiteDetail } }),
      ),
      async (request) => {
        await assertSiteReach(ctx, request, request.params.name, 'viewer');
        const site = await siteByName(ctx, request.params.name);
        const events = await latestEvents(ctx, { site: site.name }, siteEventsShown + 1);
        return {
          ...siteView(site),
          deployments: await deploymentsOfSite(ctx, site),
          attention: await attentionOf(ctx, site.id),
          events: events.slice(-siteEventsShown),
          moreEvents: events.length > siteEventsShown,
        };
      },
    );

    app.patch(
      '/sites/:name',
      reaching(
        'sites',
        operatorRoute('operator', 'sites', {
          params: NameParam,
          body: SitePatch,
          response: { 200: SiteView },
        }),
      ),
      async (request) => {
        const { name } = request.params;
        await assertSiteReach(ctx, request, name, 'operator');
        if (request.body.labels) assertLabelsWithinReach(request, name, request.body.labels, 'operator');
        const site = await patchSite(ctx, actorOf(request), request.params.name, request.body);
        return siteView(site);
      },
    );

    app.post(
      '/sites/:name/approve',
      reaching(
        'sites',
        operatorRoute('operator', 'sites', {
          params: NameParam,
          body: ApproveRequest,
          response: { 200: SiteView },
        }),
      ),
      async (request) => {
        const { name } = request.params;
        await assertSiteReach(ctx, request, name, 'operator');
        if (request.body.labels) assertLabelsWithinReach(request, name, request.body.labels, 'operator');
        const site = await approveSite(ctx, actorOf(request), request.params.name, request.body);
        return siteView(site);
      },
    );

    app.post(
      '/sites/:name/reject',
      reaching(
        'sites',
        operatorRoute('operator', 'sites', { params: NameParam, response: { 204: Type.Null() } }),
      ),
      async (request, reply) => {
        await assertSiteReach(ctx, request, request.params.name, 'operator');
        await rejectSite(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/sites/:name/decommission',
      reaching('sites', operatorRoute('admin', 'sites', { params: NameParam, response: { 200: SiteView } })),
      async (request) => {
        await assertSiteReach(ctx, request, request.params.name, 'admin');
        const site = await decommissionSite(ctx, actorOf(request), request.params.name);
        return siteView(site);
      },
    );

    app.post(
      '/bundles/apply',
      {
        ...reaching(
          'bundles',
          operatorRoute('operator', 'bundles', { body: BundleFiles, response: { 200: ApplyResult } }),
        ),
        bodyLimit: 64 * 1024 * 1024,
      },
      async (request) =>
        applyBundle(ctx, actorOf(request), request.body, {
          check: (bundle, owner, exists) => {
            if (exists || !mayCreateBundle(request.operator!.bindings))
              assertMayChangeBundle(request, `bundle ${bundle}`, owner);
          },
          team: teamOfNewBundle(request.operator!.bindings),
        }),
    );

    app.post(
      '/rollouts',
      reaching(
        'bundles',
        operatorRoute('operator', 'rollouts', { body: RolloutRequest, response: { 201: RolloutDetail } }),
      ),
      async (request, reply) => {
        const { bundle } = request.body;
        assertMayChangeBundle(request, `bundle ${bundle}`, await bundleOwner(ctx, bundle));
        const id = await startRollout(ctx, actorOf(request), request.body);
        await tickRollout(ctx, id);
        return reply.status(201).send(await rolloutDetail(ctx, id));
      },
    );

    app.get(
      '/rollouts',
      operatorRoute('viewer', 'rollouts', {
        querystring: Type.Object({ bundle: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ items: Type.Array(RolloutView) }) },
      }),
      async (request) => ({ items: await listRollouts(ctx, request.query.bundle) }),
    );

    app.get(
      '/rollouts/:id',
      operatorRoute('viewer', 'rollouts', { params: IdParam, response: { 200: RolloutDetail } }),
      async (request) => rolloutDetail(ctx, request.params.id),
    );

    // the action is queued, then the rollout steps at once so the answer shows its effect
    app.post(
      '/rollouts/:id/actions',
      reaching(
        'bundles',
        operatorRoute('operator', 'rollouts', {
          params: IdParam,
          body: RolloutActionRequest,
          response: { 200: RolloutDetail },
        }),
      ),
      async (request) => {
        const { id } = request.params;
        const { bundle } = await rolloutRow(ctx.store.db, bundleRollouts, id);
        assertMayChangeBundle(request, `bundle ${bundle}`, await bundleOwner(ctx, bundle));
        await queueRolloutAction(ctx, bundleRollouts, actorOf(request), id, request.body);
        await tickRollout(ctx, id);
        return rolloutDetail(ctx, id);
      },
    );

    app.get(
      '/rollout-strategies',
      operatorRoute('viewer', 'rollouts', {
        response: { 200: Type.Object({ items: Type.Array(StrategyView) }) },
      }),
      async () => ({ items: await listStrategies(ctx) }),
    );

    app.get(
      '/rollout-strategies/:name',
      operatorRoute('viewer', 'rollouts', { params: NameParam, response: { 200: StrategyView } }),
      async (request) => getStrategy(ctx, request.params.name),
    );

    // a strategy from a source's fleet repository changes only there (409), as its bundles do
    app.post(
      '/rollout-strategies',
      operatorRoute('operator', 'rollouts', {
        body: StrategyRequest,
        response: { 200: StrategyView, 201: StrategyView },
      }),
      async (request, reply) => {
        const { created, view } = await applyStrategy(ctx, actorOf(request), request.body);
        return reply.status(created ? 201 : 200).send(view);
      },
    );

    app.delete(
      '/rollout-strategies/:name',
      operatorRoute('operator', 'rollouts', { params: NameParam, response: { 204: Type.Null() } }),
      async (request, reply) => {
        await deleteStrategy(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/bundles',
      reaching(
        'sites',
        operatorRoute('viewer', 'bundles', {
          response: { 200: Type.Object({ items: Type.Array(BundleView) }) },
        }),
      ),
      async (request) => ({ items: await listBundles(ctx, withinOf(request)) }),
    );

    app.get(
      '/bundles/:name',
      reaching(
        'sites',
        operatorRoute('viewer', 'bundles', { params: NameParam, response: { 200: BundleView } }),
      ),
      async (request) => getBundle(ctx, request.params.name, withinOf(request)),
    );

    app.delete(
      '/bundles/:name',
      reaching(
        'bundles',
        operatorRoute('operator', 'bundles', { params: NameParam, response: { 204: Type.Null() } }),
      ),
      async (request, reply) => {
        const { name } = request.params;
        assertMayChangeBundle(request, `bundle ${name}`, await bundleOwner(ctx, name));
        await deleteBundle(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/status',
      reaching('sites', operatorRoute('viewer', 'status', { response: { 200: FleetStatus } })),
      async (request) => {
        const within = withinOf(request);
        return within ? fleetStatusWithin(ctx, within) : fleetStatus(ctx);
      },
    );

    app.post(
      '/bootstrap-tokens',
      operatorRoute('admin', 'access', {
        body: BootstrapTokenRequest,
        response: { 201: BootstrapTokenCreated },
      }),
      async (request, reply) => {
        const { token, view } = await createBootstrapToken(ctx, actorOf(request), request.body);
        const releaseKey = ctx.config.releases.publicKey;
        const joinToken = encodeJoinToken({
          hub: ctx.publicUrl.current,
          caSha256: ctx.tls.caSha256,
          token,
          relays: request.body.relays,
          ...(releaseKey ? { releaseKey: compactPublicKey(releaseKey) } : {}),
        });
        return reply.status(201).send({ joinToken, token: view });
      },
    );

    app.get(
      '/bootstrap-tokens',
      operatorRoute('admin', 'access', {
        response: { 200: Type.Object({ items: Type.Array(BootstrapTokenView) }) },
      }),
      async () => ({ items: await listBootstrapTokens(ctx) }),
    );

    app.delete(
      '/bootstrap-tokens/:id',
      operatorRoute('admin', 'access', { params: IdParam, response: { 204: Type.Null() } }),
      async (request, reply) => {
        await revokeBootstrapToken(ctx, actorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api-tokens',
      operatorRoute('admin', 'access', { body: ApiTokenRequest, response: { 201: ApiTokenCreated } }),
      async (request, reply) => {
        const { token, view } = await createApiToken(
          ctx,
          actorOf(request),
          request.body.name,
          request.body.role,
          undefined,
          request.body.bindings,
        );
        return reply.status(201).send({ token, apiToken: view });
      },
    );

    app.get(
      '/api-tokens',
      operatorRoute('admin', 'access', {
        response: { 200: Type.Object({ items: Type.Array(ApiTokenView) }) },
      }),
      async () => ({ items: await listApiTokens(ctx) }),
    );

    app.delete(
      '/api-tokens/:id',
      operatorRoute('admin', 'access', { params: IdParam, response: { 204: Type.Null() } }),
      async (request, reply) => {
        await revokeApiToken(ctx, actorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/audit',
      operatorRoute('admin', 'access', {
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          before: Type.Optional(Type.String()),
          action: Type.Optional(Type.String()),
        }),
        response: { 200: Type.Object({ items: Type.Array(AuditEntry) }) },
      }),
      async (request) => ({
        items: await listAudit(ctx, {
          limit: request.query.limit ?? 100,
          before: request.query.before,
          action: request.query.action,
        }),
      }),
    );

    app.post(
      '/query',
      reaching(
        'sites',
        operatorRoute('viewer', 'status', {
          summary: 'Query the fleet: filter, group, aggregate, sort and page sites',
          description:
            "Filters: `selector` (Kubernetes label selector), `connectivity`, `lifecycle`, `state`, `bundle`, `revision` and `where` (see its schema). Without `groupBy` the result lists sites in pages of `limit` with a keyset `nextCursor` (stable while the fleet changes); with `groupBy` it returns groups with `count` and any `sum|avg|min|max(property:KEY)`. Naming a `bundle` (or grouping by bundle or revision) makes `state` and `revision` those of the deployment; otherwise `state` is the site's worst state.",
          body: QueryRequest,
          response: { 200: QueryResult },
        }),
      ),
      async (request) => {
        const within = withinOf(request);
        return runQuery(ctx, { ...planQuery(request.body), ...(within ? { within } : {}) });
      },
    );

    app.get(
      '/attention',
      reaching(
        'sites',
        operatorRoute('viewer', 'status', {
          summary: 'The sites that most need attention, with the reason',
          description:
            'Most urgent reason first (Failed, Drifted, Expired, Offline, NotReady, Stale), then the longest-standing.',
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
          response: { 200: Type.Object({ items: Type.Array(AttentionItem) }) },
        }),
      ),
      async (request) => ({
        items: await attentionList(ctx, request.query.limit ?? 20, withinOf(request)),
      }),
    );

    app.get(
      '/events',
      reaching(
        'sites',
        operatorRoute('viewer', 'events', {
          summary: 'Events, oldest first',
          description:
            'With `after`, the events after that id (page on with `lastId`); without it, the latest `limit` events.',
          querystring: Type.Object({
            after: Type.Optional(Type.Integer({ minimum: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            ...EventFilterQuery,
          }),
          response: { 200: EventList },
        }),
      ),
      async (request) => {
        const { after, limit = 100, site, type } = request.query;
        const within = withinOf(request);
        const filter = {
          ...(site !== undefined ? { site } : {}),
          ...(type ? { type } : {}),
          ...(within ? { within } : {}),
        };
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
        config: { role: 'viewer', reach: 'sites' },
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
        const within = withinOf(request);
        const filter = {
          ...(site !== undefined ? { site } : {}),
          ...(type ? { type } : {}),
          ...(within ? { within } : {}),
        };
        await streamEvents(ctx, request, reply, filter, after);
      },
    );
  };
}
