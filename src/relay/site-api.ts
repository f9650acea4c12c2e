// The agent API as a relay serves it, over mTLS with the sites' own certificates: each site's desired
// state long-polled from the cache, the blobs it names, and reports and telemetry taken into the durable
// outbox (a report that repeats the site's last one is kept back). Registration, renewal and operations
// are the hub's alone (a poll here only says operations wait); a site the relay does not serve is
// refused, and its agent falls back to the hub.

import type { TLSSocket } from 'node:tls';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { WorkSignal } from '../hub/operations/work-signal.ts';
import { installErrorHandling } from '../hub/routes/errors.ts';
import { gunzipBody } from '../hub/routes/gunzip-body.ts';
import { OutpostError } from '../model/errors.ts';
import { workHeader } from '../model/operations.ts';
import type { FeedSite, RelayStatus } from '../model/relay-wire.ts';
import { TelemetryAck, TelemetryBatch } from '../model/telemetry.ts';
import { type DesiredState, ErrorBody, Report, ReportAck } from '../model/wire.ts';
import { normalizeSerialHex } from '../pki/certificate.ts';
import type { RelayCache } from './cache.ts';
import type { SiteWaiters } from './site-waiters.ts';

declare module 'fastify' {
  interface FastifyRequest {
    feedSite?: FeedSite;
    /** the body's JSON text as the site sent it (after any gunzip) */
    jsonText?: string;
  }
}

export interface SiteApiOptions {
  cache: RelayCache;
  waiters: SiteWaiters;
  /** the sites the hub says have operations waiting; their agents take them at the hub */
  work: WorkSignal;
  caPem: string;
  serverCertPem: string;
  keyPem: string;
  /** longest a desired-state poll is held */
  maxWaitSeconds: number;
  /**
   * takes a site's report (parsed and checked, and its JSON text as sent): resolves once it is on disk
   * for the hub, or kept back as unchanged
   */
  takeReport: (siteId: string, report: Report, text: string) => Promise<void>;
  /** keeps a site's telemetry batch; resolves once it is on disk */
  keepTelemetry: (siteId: string, body: string) => Promise<void>;
  /** a site's agent called */
  heard: (siteId: string) => void;
  /** most bytes a telemetry batch may inflate to */
  maxTelemetryBytes: number;
  /** counts only (no site names): for people and monitoring near the relay */
  status: () => RelayStatus;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody };
const SiteParam = Type.Object({ siteId: Type.String() });

/**
 * The serial of the certificate each connection's client presented, read once per connection: a
 * keep-alive connection carries many requests, and the certificate cannot change on it.
 */
const peerSerials = new WeakMap<object, string>();

/** The site whose certificate the caller presented: verified against the fleet CA, served by this relay. */
function siteAuth(cache: RelayCache, heard: (siteId: string) => void) {
  return async (request: FastifyRequest): Promise<void> => {
    const socket = request.raw.socket as Partial<TLSSocket>;
    let serial = peerSerials.get(socket);
    if (serial === undefined) {
      const peer = socket.getPeerX509Certificate?.();
      if (!peer?.serialNumber) throw new OutpostError('unauthorized', 'no client certificate presented');
      if (!socket.authorized) {
        throw new OutpostError(
          'unauthorized',
          `client certificate refused: ${String(socket.authorizationError)}`,
        );
      }
      serial = normalizeSerialHex(peer.serialNumber);
      peerSerials.set(socket, serial);
    }
    const site = cache.siteBySerial(serial);
    if (!site) throw new OutpostError('forbidden', 'this relay does not serve the site of this certificate');
    const wanted = (request.params as { siteId?: string } | undefined)?.siteId;
    if (wanted !== undefined && wanted !== site.id) {
      throw new OutpostError('forbidden', 'this certificate belongs to another site');
    }
    request.feedSite = site;
    heard(site.id);
  };
}

function siteRoutes(opts: SiteApiOptions): FastifyPluginAsyncTypebox {
  return async (app) => {
    const { cache, waiters } = opts;
    const authenticate = siteAuth(cache, opts.heard);
    // the bodies go to the outbox as the sites wrote them: parsed (by Fastify's own guarded parser) and
    // kept as text, not serialized again
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, text, done) => {
      request.jsonText = text as string;
      parseJson(request, text as string, done);
    });

    app.get('/ca', async (_request, reply) =>
      reply.header('content-type', 'application/x-pem-file').send(opts.caPem),
    );

    app.get(
      '/sites/:siteId/desired',
      {
        onRequest: authenticate,
        schema: {
          params: SiteParam,
          querystring: Type.Object({ wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })) }),
          // 200: a DesiredState, sent as the JSON text the cache holds
          response: { 304: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const siteId = request.feedSite!.id;
        reply.header('cache-control', 'no-store');
        const known = request.headers['if-none-match'];
        let state = cache.desired(siteId);
        if (!state)
          throw new OutpostError('unavailable', 'the relay holds no desired state for this site yet');
        const waitMs = Math.min(request.query.wait ?? 0, opts.maxWaitSeconds) * 1000;
        if (known === `"${state.digest}"` && waitMs > 0 && !opts.work.untold(siteId)) {
          await waiters.wait(siteId, waitMs, request.raw);
          const now = cache.desired(siteId);
          // the site left the relay's scope while its poll waited: its state left the cache with it
          if (!now) throw new OutpostError('forbidden', 'this relay no longer serves the site');
          state = now;
        }
        // as the hub's own poll says it: the agent takes its operations at the hub, with its own certificate
        if (opts.work.has(siteId)) {
          reply.header(workHeader, '1');
          opts.work.told(siteId);
        }
        reply.header('etag', `"${state.digest}"`);
        if (known === `"${state.digest}"`) return reply.status(304).send(null);
        // the state's JSON made once when the cache stored it (the schema's reply type wants an object)
        return (reply as FastifyReply).type('application/json; charset=utf-8').send(state.json);
      },
    );

    app.get(
      '/sites/:siteId/blobs/:digest',
      {
        onRequest: authenticate,
        schema: {
          params: Type.Object({
            siteId: Type.String(),
            digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
          }),
          response: { 200: Type.Unknown(), ...errors },
        },
      },
      async (request, reply) => {
        const { digest } = request.params;
        // per-site renderings may hold per-site values: a blob goes only to a site it is placed on
        const state = cache.desired(request.feedSite!.id);
        const placed =
          state && (JSON.parse(state.json) as DesiredState).deployments.some((d) => d.digest === digest);
        if (!placed || !cache.hasBlob(digest)) {
          throw new OutpostError('not_found', `no blob ${digest} is placed on this site at the relay`);
        }
        reply.header('content-type', 'application/json; charset=utf-8');
        reply.header('cache-control', 'private, max-age=31536000, immutable');
        return reply.send(await cache.blob(digest));
      },
    );

    app.post(
      '/sites/:siteId/report',
      {
        onRequest: authenticate,
        bodyLimit: 4 * 1024 * 1024,
        schema: { params: SiteParam, body: Report, response: { 200: ReportAck, ...errors } },
      },
      async (request) => {
        // on disk (or known to the hub already) before the site hears it was taken: the relay now
        // answers for it reaching the hub
        await opts.takeReport(request.feedSite!.id, request.body, request.jsonText!);
        return { accepted: true, lastSeq: request.body.seq };
      },
    );

    app.post(
      '/sites/:siteId/telemetry',
      {
        onRequest: authenticate,
        preParsing: gunzipBody(opts.maxTelemetryBytes),
        bodyLimit: opts.maxTelemetryBytes,
        schema: { params: SiteParam, body: TelemetryBatch, response: { 200: TelemetryAck, ...errors } },
      },
      async (request) => {
        await opts.keepTelemetry(request.feedSite!.id, request.jsonText!);
        return { accepted: true };
      },
    );
  };
}

/** The relay's HTTPS server for agents: asks every client for a certificate and checks it per request. */
export async function buildSiteApi(opts: SiteApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    https: {
      key: opts.keyPem,
      cert: opts.serverCertPem,
      ca: opts.caPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    requestTimeout: (opts.maxWaitSeconds + 30) * 1000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  app.addHook('preClose', async () => opts.waiters.close());
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/status', async () => opts.status());
  await app.register(siteRoutes(opts), { prefix: '/agent/v1' });
  return app;
}
