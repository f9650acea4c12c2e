// The agent API (/agent/v1): registration, the long-polled desired state, content-addressed blobs and
// reports. Agents open every connection; the hub never calls a site.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import {
  DesiredState,
  ErrorBody,
  RegisterRequest,
  RegisterResponse,
  Report,
  ReportAck,
} from '../../model/wire.ts';
import { desiredDigest } from '../../render/rendered.ts';
import type { HubContext } from '../context.ts';
import { bearerOf, sameSecret } from '../credentials.ts';
import { registerSite, type Site, siteByCredential, siteFromRow, touchSite } from '../sites/sites.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

declare module 'fastify' {
  interface FastifyRequest {
    site?: Site;
  }
}

function etagOf(digest: string): string {
  return `"${digest}"`;
}

async function desiredState(ctx: HubContext, siteId: string): Promise<DesiredState> {
  const db = ctx.store.db;
  const row = await db.selectFrom('sites').selectAll().where('id', '=', siteId).executeTakeFirstOrThrow();
  const site = siteFromRow(row);
  const deployments = await db
    .selectFrom('deployments')
    .select(['bundle', 'desired_revision', 'desired_digest'])
    .where('site_id', '=', siteId)
    .where('desired_digest', 'is not', null)
    .orderBy('bundle')
    .execute();
  const list = deployments.map((d) => ({
    bundle: d.bundle,
    revision: Number(d.desired_revision),
    digest: d.desired_digest!,
  }));
  return { site: site.name, digest: site.desiredDigest ?? desiredDigest(list), deployments: list };
}

export function agentRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const authenticate = async (request: FastifyRequest) => {
      const token = bearerOf(request.headers.authorization);
      if (!token) throw new OutpostError('unauthorized', 'missing site credential (Authorization: Bearer …)');
      const site = await siteByCredential(ctx, token);
      if (!site) throw new OutpostError('unauthorized', 'unknown site credential; register again');
      if (site.lifecycle !== 'Active')
        throw new OutpostError('forbidden', `site ${site.name} is ${site.lifecycle}`);
      request.site = site;
    };

    app.post(
      '/register',
      { schema: { tags: ['agent'], body: RegisterRequest, response: { 200: RegisterResponse, ...errors } } },
      async (request) => {
        if (!sameSecret(request.body.token, ctx.config.registrationToken)) {
          throw new OutpostError('unauthorized', 'invalid registration token');
        }
        const { site, credential } = await registerSite(ctx, request.body);
        request.log.info({ site: site.name }, 'site registered');
        return { siteId: site.id, name: site.name, credential };
      },
    );

    app.get(
      '/desired',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          querystring: Type.Object({ wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })) }),
          response: { 200: DesiredState, 304: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const site = request.site!;
        await touchSite(ctx, site);
        const known = request.headers['if-none-match'];
        let state = await desiredState(ctx, site.id);
        const waitMs = Math.min(request.query.wait ?? 0, ctx.config.maxWaitSeconds) * 1000;
        if (known === etagOf(state.digest) && waitMs > 0) {
          const abort = new AbortController();
          request.raw.once('close', () => abort.abort());
          const changed = await ctx.desiredWatch.wait(site.id, waitMs, abort.signal);
          if (changed) state = await desiredState(ctx, site.id);
        }
        reply.header('etag', etagOf(state.digest));
        reply.header('cache-control', 'no-store');
        if (known === etagOf(state.digest)) return reply.status(304).send(null);
        return state;
      },
    );

    app.get(
      '/blobs/:digest',
      {
        onRequest: authenticate,
        schema: {
          tags: ['agent'],
          params: Type.Object({ digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }) }),
          response: { 200: Type.Unknown(), ...errors },
        },
      },
      async (request, reply) => {
        const site = request.site!;
        const { digest } = request.params;
        // A site reads only blobs placed on it: per-site renderings may one day hold per-site values.
        const placed = await ctx.store.db
          .selectFrom('deployments')
          .select('bundle')
          .where('site_id', '=', site.id)
          .where('desired_digest', '=', digest)
          .executeTakeFirst();
        if (!placed) throw new OutpostError('not_found', `no blob ${digest} is placed on site ${site.name}`);
        const blob = await ctx.store.db
          .selectFrom('blobs')
          .select('content')
          .where('digest', '=', digest)
          .executeTakeFirst();
        if (!blob) throw new OutpostError('not_found', `blob ${digest} is missing`);
        reply.header('content-type', 'application/json; charset=utf-8');
        reply.header('cache-control', 'public, max-age=31536000, immutable');
        return reply.send(blob.content);
      },
    );

    app.post(
      '/report',
      {
        onRequest: authenticate,
        bodyLimit: 4 * 1024 * 1024,
        schema: { tags: ['agent'], body: Report, response: { 200: ReportAck, ...errors } },
      },
      async (request) => ctx.reports.submit(request.site!, request.body),
    );
  };
}
