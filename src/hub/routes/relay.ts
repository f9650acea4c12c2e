// The relay API (/relay/v1) and the operator's relay routes (/api/v1/relays). A relay enrols once with its
// join token's secret; every other call is mTLS with its client certificate and answers for the sites its
// selector picks alone: the change feed, signed desired states, blobs and batches of reports.

import type { TLSSocket } from 'node:tls';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { encodeRelayJoinToken } from '../../model/join-token.ts';
import {
  RelayBatch,
  RelayBatchAck,
  RelayCreated,
  RelayCreateRequest,
  RelayDesiredRequest,
  RelayDesiredResponse,
  RelayDetail,
  RelayEnrolRequest,
  RelayEnrolResponse,
  RelayFeed,
  RelayRenewRequest,
  RelayView,
} from '../../model/relay-wire.ts';
import { ErrorBody } from '../../model/wire.ts';
import { actorOf, operatorAuth, presentedSerial } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { ingestRelayBatch } from '../relays/batch-ingest.ts';
import {
  relayBlob,
  relayFeed,
  relayFeedSince,
  scopeChanged,
  signedDesiredStates,
} from '../relays/change-feed.ts';
import {
  createRelay,
  enrolRelay,
  listRelays,
  type Relay,
  relayByCertificate,
  relayDetail,
  renewRelay,
  revokeRelay,
} from '../relays/relays.ts';
import { operatorRoute } from './operator-route.ts';

declare module 'fastify' {
  interface FastifyRequest {
    relay?: Relay;
  }
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

function relayAuth(ctx: HubContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const found = await relayByCertificate(
      ctx,
      presentedSerial(request.raw.socket as Partial<TLSSocket>, 'relay'),
    );
    if ('refused' in found) throw new OutpostError('unauthorized', found.refused);
    request.relay = found;
  };
}

export function relayRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const authenticate = relayAuth(ctx);
    // held feed polls end when the server closes, as held desired-state polls do
    const closing = new AbortController();
    app.addHook('preClose', async () => closing.abort());

    app.post(
      '/enrol',
      {
        schema: {
          tags: ['relay'],
          security: [],
          body: RelayEnrolRequest,
          response: { 200: RelayEnrolResponse, ...errors },
        },
      },
      async (request) => enrolRelay(ctx, request.body),
    );

    app.post(
      '/renew',
      {
        onRequest: authenticate,
        schema: {
          tags: ['relay'],
          body: RelayRenewRequest,
          response: { 200: RelayEnrolResponse, ...errors },
        },
      },
      async (request) => renewRelay(ctx, request.relay!, request.body),
    );

    app.get(
      '/changes',
      {
        onRequest: authenticate,
        schema: {
          tags: ['relay'],
          querystring: Type.Object({
            wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })),
            /** the cursor of the relay's last answer ('' for none): the answer is only what changed since */
            since: Type.Optional(Type.String({ maxLength: 100 })),
          }),
          response: { 200: RelayFeed, 304: Type.Null(), 503: ErrorBody, ...errors },
        },
      },
      async (request, reply) => {
        const relay = request.relay!;
        const waitMs = Math.min(request.query.wait ?? 0, ctx.config.maxWaitSeconds) * 1000;
        reply.header('cache-control', 'no-store');
        const abort = new AbortController();
        request.raw.once('close', () => abort.abort());
        const signal = AbortSignal.any([abort.signal, closing.signal]);
        if (request.query.since !== undefined) {
          const feed = await relayFeedSince(ctx, relay, request.query.since, waitMs, signal);
          // the caller went away, or the server is closing: the relay asks again (elsewhere) with its cursor
          if (!feed) throw new OutpostError('unavailable', 'the hub is closing; ask again');
          return feed;
        }
        // relays from before cursors: the whole list each time, held while its digest is the caller's
        const known = request.headers['if-none-match'];
        let feed = await relayFeed(ctx, relay);
        if (known === `"${feed.digest}"` && waitMs > 0) {
          await scopeChanged(ctx, new Set(feed.sites.map((s) => s.id)), waitMs, signal);
          if (!abort.signal.aborted) feed = await relayFeed(ctx, relay);
        }
        reply.header('etag', `"${feed.digest}"`);
        if (known === `"${feed.digest}"`) return reply.status(304).send(null);
        return feed;
      },
    );

    app.post(
      '/desired',
      {
        onRequest: authenticate,
        schema: {
          tags: ['relay'],
          body: RelayDesiredRequest,
          response: { 200: RelayDesiredResponse, ...errors },
        },
      },
      async (request) => ({ states: await signedDesiredStates(ctx, request.relay!, request.body.siteIds) }),
    );

    app.get(
      '/blobs/:digest',
      {
        onRequest: authenticate,
        schema: {
          tags: ['relay'],
          params: Type.Object({ digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }) }),
          response: { 200: Type.Unknown(), ...errors },
        },
      },
      async (request, reply) => {
        const content = await relayBlob(ctx, request.relay!, request.params.digest);
        reply.header('content-type', 'application/json; charset=utf-8');
        return reply.send(content);
      },
    );

    app.post(
      '/batches',
      {
        onRequest: authenticate,
        bodyLimit: 64 * 1024 * 1024,
        schema: { tags: ['relay'], body: RelayBatch, response: { 200: RelayBatchAck, ...errors } },
      },
      async (request) => ingestRelayBatch(ctx, request.relay!, request.body),
    );
  };
}

export function relayAdminRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.post(
      '/relays',
      operatorRoute('admin', 'relays', { body: RelayCreateRequest, response: { 201: RelayCreated } }),
      async (request, reply) => {
        const { token, view } = await createRelay(ctx, actorOf(request), request.body);
        const joinToken = encodeRelayJoinToken({
          hub: ctx.publicUrl.current,
          caSha256: ctx.tls.caSha256,
          token,
        });
        return reply.status(201).send({ joinToken, relay: view });
      },
    );

    app.get(
      '/relays',
      operatorRoute('viewer', 'relays', { response: { 200: Type.Object({ items: Type.Array(RelayView) }) } }),
      async () => ({ items: await listRelays(ctx) }),
    );

    app.get(
      '/relays/:name',
      operatorRoute('viewer', 'relays', {
        params: Type.Object({ name: Type.String() }),
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
        response: { 200: RelayDetail },
      }),
      async (request) => relayDetail(ctx, request.params.name, request.query.limit ?? 100),
    );

    app.delete(
      '/relays/:name',
      operatorRoute('admin', 'relays', {
        params: Type.Object({ name: Type.String() }),
        response: { 204: Type.Null() },
      }),
      async (request, reply) => {
        await revokeRelay(ctx, actorOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );
  };
}
