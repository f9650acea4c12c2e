// Troubleshooting tunnels: operators ask for a session (/api/v1/sites/{name}/tunnel), their Kubernetes
// clients send requests to /tunnel/v1/sites/{name}/… with its credential, and the site's agent answers
// the hub's wake-up by dialling out (/agent/v1/sites/{siteId}/tunnel, an HTTP upgrade) or by refusing.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError } from 'fastify';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { roleAllows } from '../../model/roles.ts';
import {
  TunnelRefusal,
  TunnelRequest,
  TunnelSessionView,
  tunnelTtl,
  tunnelUpgrade,
} from '../../model/tunnel.ts';
import { ErrorBody } from '../../model/wire.ts';
import { assertSiteReach } from '../access/reach.ts';
import { actorOf, operatorAuth, siteAuth, siteOfConnection } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { bearerOf } from '../credentials.ts';
import { siteByName } from '../sites/sites.ts';
import { forwardThroughTunnel } from '../tunnel/forward.ts';
import { openTunnelSession, tunnelSessionByToken } from '../tunnel/sessions.ts';
import type { SiteTunnels } from '../tunnel/site-tunnels.ts';
import { operatorRoute, reaching } from './operator-route.ts';

const NameParam = Type.Object({ name: Type.String() });
const SiteParam = Type.Object({ siteId: Type.String() });
const agentErrors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
export const tunnelPrefix = '/tunnel/v1/sites/';
/** The Status reason Kubernetes gives each status the hub refuses with. */
const kubeReasons: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  503: 'ServiceUnavailable',
};

/** POST /api/v1/sites/{name}/tunnel: a session for the caller's Kubernetes client. */
export function tunnelSessionRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));
    // a read-only look needs the operator role over the site, as logs do; a write session needs admin
    app.post(
      '/sites/:name/tunnel',
      reaching(
        'sites',
        operatorRoute('operator', 'tunnels', {
          summary:
            "A short-lived credential for the site's Kubernetes API through the hub (read-only unless mode=write)",
          params: NameParam,
          body: TunnelRequest,
          response: { 201: TunnelSessionView },
        }),
      ),
      async (request, reply) => {
        const mode = request.body.mode ?? 'read';
        const role = mode === 'write' ? 'admin' : 'operator';
        await assertSiteReach(ctx, request, request.params.name, role);
        const operator = request.operator!;
        if (mode === 'write' && !roleAllows(operator.role, 'admin')) {
          throw new OutpostError(
            'forbidden',
            `a write tunnel needs the admin role; token ${operator.name} has ${operator.role}`,
          );
        }
        const site = await siteByName(ctx, request.params.name);
        const ttl = request.body.ttlSeconds ?? tunnelTtl.defaultSeconds;
        const { session, token } = await openTunnelSession(ctx, actorOf(request), operator, site, mode, ttl);
        return reply.status(201).send({
          id: session.id,
          site: site.name,
          mode,
          operator: operator.name,
          expiresAt: session.expiresAt,
          server: `${ctx.publicUrl.current.replace(/\/$/, '')}${tunnelPrefix}${encodeURIComponent(site.name)}`,
          token,
          caPem: ctx.tls.ca.certPem,
        });
      },
    );
  };
}

/** /tunnel/v1/sites/{name}/…: every method, bodies left unparsed to stream through as they come. */
export function tunnelProxyRoutes(ctx: HubContext, tunnels: SiteTunnels): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Kubernetes clients show a refusal's message only when it comes as a Status object; the hub's own
    // error body rides along in it, so the stable code is there for scripts too
    app.setErrorHandler((err: FastifyError, request, reply) => {
      let known: OutpostError;
      if (err instanceof OutpostError) known = err;
      else if (err.statusCode && err.statusCode < 500)
        known = new OutpostError('request_invalid', err.message);
      else {
        request.log.error({ err }, 'tunnel request failed');
        known = new OutpostError('internal', 'internal error; see the hub log');
      }
      // kubectl's discovery requests decode no Status (any JSON error reads "unknown") but show plain text
      if (/as=APIGroupDiscoveryList/.test(String(request.headers.accept))) {
        return reply.status(known.status).type('text/plain').send(`${known.code}: ${known.message}`);
      }
      return reply.status(known.status).send({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `${known.code}: ${known.message}`,
        reason: kubeReasons[known.status] ?? 'InternalError',
        code: known.status,
        ...known.toBody(),
      });
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    app.all(
      `${tunnelPrefix}:name/*`,
      { schema: { hide: true, params: Type.Object({ name: Type.String(), '*': Type.String() }) } },
      async (request, reply) => {
        const token = bearerOf(request.headers.authorization);
        if (!token) {
          throw new OutpostError('unauthorized', 'missing tunnel credential (Authorization: Bearer …)');
        }
        const session = await tunnelSessionByToken(ctx, token);
        const site = await siteByName(ctx, request.params.name).catch(() => undefined);
        // a credential is for one site: another name in the path gets the same answer as no such site
        if (!site || site.id !== session.siteId) {
          throw new OutpostError(
            'forbidden',
            `tunnel session ${session.id} is not for site ${request.params.name}`,
          );
        }
        const raw = request.raw.url ?? '';
        const kubePath = raw.slice(raw.indexOf('/', tunnelPrefix.length)) || '/';
        await forwardThroughTunnel(ctx, tunnels, request, reply, { session, siteName: site.name, kubePath });
      },
    );
  };
}

/** The agent's side: whether a tunnel is wanted, its refusal, and the upgrade that becomes the tunnel. */
export function tunnelAgentRoutes(ctx: HubContext, tunnels: SiteTunnels): FastifyPluginAsyncTypebox {
  return async (app) => {
    const authenticate = siteAuth(ctx);
    app.get(
      '/sites/:siteId/tunnel',
      {
        preHandler: authenticate,
        schema: {
          tags: ['agent'],
          params: SiteParam,
          response: { 200: Type.Object({ wanted: Type.Boolean() }), ...agentErrors },
        },
      },
      async (request) => ({ wanted: tunnels.wanted(request.site!.id) }),
    );
    app.post(
      '/sites/:siteId/tunnel/refusal',
      {
        preHandler: authenticate,
        schema: {
          tags: ['agent'],
          params: SiteParam,
          body: TunnelRefusal,
          response: { 204: Type.Null(), ...agentErrors },
        },
      },
      async (request, reply) => {
        const site = request.site!;
        tunnels.refuse(site.id, site.name, `site ${site.name} refuses tunnels: ${request.body.reason}`);
        return reply.status(204).send(null);
      },
    );
    const path = /^\/agent\/v1\/sites\/([^/?]+)\/tunnel(?:\?.*)?$/;
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const m = path.exec(req.url ?? '');
      if (!m || req.headers.upgrade?.toLowerCase() !== tunnelUpgrade) {
        refuseUpgrade(socket, new OutpostError('not_found', `no upgrade at ${req.url}`));
        return;
      }
      siteOfConnection(ctx, req.socket as TLSSocket, decodeURIComponent(m[1]!)).then(
        (site) => {
          if (!tunnels.wanted(site.id)) {
            refuseUpgrade(
              socket,
              new OutpostError('conflict', `no tunnel to site ${site.name} is wanted now`),
            );
            return;
          }
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${tunnelUpgrade}\r\n\r\n`,
          );
          if (head.length > 0) socket.unshift(head);
          tunnels.attach(site.id, socket);
        },
        (e: unknown) =>
          refuseUpgrade(
            socket,
            e instanceof OutpostError ? e : new OutpostError('internal', 'internal error'),
          ),
      );
    });
  };
}

function refuseUpgrade(socket: Duplex, err: OutpostError): void {
  const body = JSON.stringify(err.toBody());
  socket.end(
    `HTTP/1.1 ${err.status} ${err.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
