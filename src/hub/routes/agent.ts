// The agent API (/agent/v1): the CA certificate (pinned by the join token), registration, certificate
// collection and renewal, the long-polled desired state, content-addressed blobs and reports. Agents
// open every connection; after registration each call is mTLS with the site's own certificate.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { LogChunk, LogChunkAck, OperationResult, SiteOperation, workHeader } from '../../model/operations.ts';
import { SealingKeyAck, SealingKeyAnnouncement } from '../../model/sealing-wire.ts';
import { TelemetryAck, TelemetryBatch } from '../../model/telemetry.ts';
import {
  CertificateRequest,
  CertificateResponse,
  DesiredState,
  ErrorBody,
  RegisterRequest,
  RegisterResponse,
  RenewRequest,
  Report,
  ReportAck,
} from '../../model/wire.ts';
import { siteAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import type { WaitEnd } from '../desired-watch.ts';
import { appendLogChunk } from '../operations/logs.ts';
import { claimOperations, finishOperation } from '../operations/operations.ts';
import { DesiredReader, placedBlob } from '../placement/desired.ts';
import { releaseContent } from '../releases/releases.ts';
import { collectCertificate, registerSite, renewCertificate } from '../sites/registration.ts';
import { announceSealingKey } from '../sites/sealing-keys.ts';
import { touchSite } from '../sites/sites.ts';
import { ingestTelemetry } from '../telemetry/ingest.ts';
import { gunzipBody } from './gunzip-body.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const SiteParam = Type.Object({ siteId: Type.String() });
const OperationParam = Type.Object({ siteId: Type.String(), id: Type.String() });

function etagOf(digest: string): string {
  return `"${digest}"`;
}

export function agentRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const authenticate = siteAuth(ctx);
    const desired = new DesiredReader(ctx.store.db);

    app.get('/ca', { schema: { tags: ['agent'], security: [] } }, async (_request, reply) => {
      reply.header('content-type', 'application/x-pem-file');
      return reply.send(ctx.tls.ca.certPem);
    });

    app.post(
      '/register',
      {
        schema: {
          tags: ['agent'],
          security: [],
          body: RegisterRequest,
          response: { 200: RegisterResponse, ...errors },
        },
      },
      async (request) => {
        const res = await registerSite(ctx, request.body, request.ip);
        request.log.info({ site: res.name, siteId: res.siteId, lifecycle: res.lifecycle }, 'site registered');
        return res;
      },
    );

    app.post(
      '/sites/:siteId/certificate',
      {
        schema: {
          tags: ['agent'],
          security: [],
          params: SiteParam,
          body: CertificateRequest,
          response: { 200: CertificateResponse, ...errors },
        },
      },
      async (request) => collectCertificate(ctx, request.params.siteId, request.body.ticket),
    );

    app.post(
      '/sites/:siteId/renew',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: SiteParam,
          body: RenewRequest,
          response: { 200: CertificateResponse, ...errors },
        },
      },
      async (request) => ({
        lifecycle: 'Active' as const,
        certificate: await renewCertificate(ctx, request.site!, request.body.csr),
      }),
    );

    // The site's sealing public key, sent by its agent at every start; secrets are sealed to it.
    app.put(
      '/sites/:siteId/sealing-key',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: SiteParam,
          body: SealingKeyAnnouncement,
          response: { 200: SealingKeyAck, ...errors },
        },
      },
      async (request) => {
        const ack = await announceSealingKey(ctx, request.site!, request.body.publicKey);
        if (ack.changed) request.log.info({ site: request.site!.name, keyId: ack.keyId }, 'sealing key set');
        return ack;
      },
    );

    app.get(
      '/sites/:siteId/desired',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: SiteParam,
          querystring: Type.Object({ wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })) }),
          response: { 200: DesiredState, 304: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const site = request.site!;
        await touchSite(ctx, site);
        const known = request.headers['if-none-match'];
        const waitMs = Math.min(request.query.wait ?? 0, ctx.config.maxWaitSeconds) * 1000;
        const tellWork = () => {
          if (!ctx.work.has(site.id)) return;
          reply.header(workHeader, '1');
          ctx.work.told(site.id);
        };
        const unchanged = () => {
          tellWork();
          return reply.header('etag', known).status(304).send(null);
        };
        reply.header('cache-control', 'no-store');
        // what is read is remembered with the site's certificate, so the agent's next poll reads nothing
        const readDesired = async () => {
          const readAt = ctx.desiredWatch.generation;
          const read = await desired.read(site.id);
          ctx.certificateSites.learnDigest(site.id, read.digest, readAt);
          return read;
        };
        // authentication knew the site's desired digest: an agent that has it costs no further read
        // unless the watch says it changed since (and then one read serves many woken polls at once)
        let state = site.desiredDigest === null ? await readDesired() : undefined;
        const digest = state?.digest ?? site.desiredDigest!;
        if (known === etagOf(digest)) {
          const readAt = request.siteReadAt!;
          let changed: WaitEnd = ctx.desiredWatch.changedSince(site.id, readAt);
          // operations the site has not been told of end the poll at once: the agent picks them up next
          if (!changed && waitMs > 0 && !ctx.work.untold(site.id)) {
            ctx.metrics.observeLongPollStart(reply.elapsedTime / 1000);
            const deadline = performance.now() + waitMs;
            // an agent that hangs up ends the wait at once
            changed = await ctx.desiredWatch.wait(site.id, waitMs, readAt, request.raw);
            // the hub's share of a late answer: from the deadline (or the wake-up) to the answer written
            if (!request.raw.destroyed) {
              const end = changed ? 'change' : 'timeout';
              const endedAt = changed ? performance.now() : Math.min(deadline, performance.now());
              reply.raw.once('finish', () =>
                ctx.metrics.observeLongPollAnswer(end, (performance.now() - endedAt) / 1000),
              );
            }
          }
          if (!changed) return unchanged();
          // the change that woke the poll brought the state it committed: nothing to read
          if (typeof changed === 'object') {
            ctx.certificateSites.learnDigest(site.id, changed.state.digest, changed.generation);
            state = changed.state;
          } else state = undefined;
        }
        state ??= await readDesired();
        // woken for operations alone: the state is the one the agent has
        if (known === etagOf(state.digest)) return unchanged();
        tellWork();
        reply.header('etag', etagOf(state.digest));
        return state;
      },
    );

    app.get(
      '/sites/:siteId/blobs/:digest',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: Type.Object({
            siteId: Type.String(),
            digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
          }),
          response: { 200: Type.Unknown(), ...errors },
        },
      },
      async (request, reply) => {
        const content = await placedBlob(ctx, request.site!, request.params.digest);
        reply.header('content-type', 'application/json; charset=utf-8');
        reply.header('cache-control', 'private, max-age=31536000, immutable');
        return reply.send(content);
      },
    );

    // An agent release's tarball; the agent checks its digest and the signature itself before using it.
    app.get(
      '/sites/:siteId/releases/:digest',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: Type.Object({
            siteId: Type.String(),
            digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
          }),
          response: { 200: Type.Unknown(), ...errors },
        },
      },
      async (request, reply) => {
        const content = await releaseContent(ctx, request.params.digest);
        if (!content)
          throw new OutpostError('not_found', `no agent release with digest ${request.params.digest}`);
        reply.header('content-type', 'application/gzip');
        reply.header('content-length', String(content.size));
        reply.header('cache-control', 'private, max-age=31536000, immutable');
        return reply.send(content.stream);
      },
    );

    app.post(
      '/sites/:siteId/report',
      {
        onRequest: authenticate,
        bodyLimit: 4 * 1024 * 1024,
        schema: { tags: ['agent'], params: SiteParam, body: Report, response: { 200: ReportAck, ...errors } },
      },
      async (request) => ctx.reports.submit(request.site!, request.body),
    );

    // Telemetry: SLI samples, events and drop counts, idempotent by batch id; gzip welcome.
    app.post(
      '/sites/:siteId/telemetry',
      {
        onRequest: authenticate,
        preParsing: gunzipBody(ctx.config.telemetry.maxInflatedBytes),
        bodyLimit: ctx.config.telemetry.maxInflatedBytes,
        schema: {
          tags: ['agent'],
          params: SiteParam,
          body: TelemetryBatch,
          response: { 200: TelemetryAck, ...errors, 413: ErrorBody, 415: ErrorBody },
        },
      },
      async (request) => ingestTelemetry(ctx, request.site!, request.body),
    );

    // Operations (remote actions, log requests): the agent claims what waits for it after a poll that
    // said so, uploads log chunks, and reports each outcome. Only the site's own operations are reachable.
    app.post(
      '/sites/:siteId/operations/claim',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: SiteParam,
          response: { 200: Type.Object({ items: Type.Array(SiteOperation) }), ...errors },
        },
      },
      async (request) => ({ items: await claimOperations(ctx, request.site!) }),
    );

    app.post(
      '/sites/:siteId/operations/:id/logs',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: OperationParam,
          body: LogChunk,
          response: { 200: LogChunkAck, ...errors },
        },
      },
      async (request) => appendLogChunk(ctx, request.site!, request.params.id, request.body),
    );

    app.post(
      '/sites/:siteId/operations/:id/result',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: OperationParam,
          body: OperationResult,
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        await finishOperation(ctx, request.site!, request.params.id, request.body);
        return reply.status(204).send(null);
      },
    );
  };
}
