// Who is calling: operators by bearer API token with a role per route (a route that names no role
// needs admin, so a forgotten declaration fails closed); agents by the client certificate of an mTLS
// connection, checked against revocation and expiry on every request (sites/certificate-sites.ts) and
// bound to the site in the path.

import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OutpostError } from '../model/errors.ts';
import { isRole, type Role, roleAllows } from '../model/roles.ts';
import { normalizeSerialHex } from '../pki/certificate.ts';
import { assertRouteReach, type RouteReach } from './access/reach.ts';
import type { Actor } from './audit/audit.ts';
import type { HubContext } from './context.ts';
import { bearerOf } from './credentials.ts';
import { type Operator, operatorByToken } from './identity/api-tokens.ts';
import type { CertificateLookup } from './sites/certificate-sites.ts';
import type { AgentSite } from './sites/sites.ts';

declare module 'fastify' {
  interface FastifyRequest {
    operator?: Operator;
    site?: AgentSite;
    /**
     * the desired watch's generation taken before `site` was read: a change to the site's desired state
     * announced after it may be missing from `site` (DesiredWatch.changedSince says)
     */
    siteReadAt?: number;
  }
  interface FastifyContextConfig {
    /** the least role an operator route needs */
    role?: Role;
    /** what part of the fleet it reads or changes (access/reach.ts); the whole fleet when absent */
    reach?: RouteReach;
  }
}

export function operatorAuth(ctx: HubContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearerOf(request.headers.authorization);
    if (!token) throw new OutpostError('unauthorized', 'missing API token (Authorization: Bearer …)');
    const operator = await operatorByToken(ctx, token);
    if (!operator) throw new OutpostError('unauthorized', 'invalid or revoked API token');
    const need = request.routeOptions.config.role;
    const required: Role = isRole(need) ? need : 'admin';
    if (!roleAllows(operator.role, required)) {
      throw new OutpostError(
        'forbidden',
        `this needs the ${required} role; token ${operator.name} has ${operator.role}`,
      );
    }
    assertRouteReach(operator, request.routeOptions.config.reach, required, request.method);
    request.operator = operator;
  };
}

/**
 * Serials of connections already verified: a connection keeps the certificate of its handshake, and
 * reading it again cost an agent's every request on a kept-alive connection ~15 µs. Revocation and
 * expiry are still checked per request, against the serial.
 */
const verifiedSerials = new WeakMap<object, string>();

/**
 * The serial (normalized hex) of the client certificate this TLS connection presented and the hub's CA
 * verified; `who` names the certificate a refusal asks for (a site's or a relay's).
 */
export function presentedSerial(socket: Partial<TLSSocket>, who: 'site' | 'relay'): string {
  const verified = verifiedSerials.get(socket);
  if (verified !== undefined) return verified;
  if (!socket.encrypted || typeof socket.getPeerX509Certificate !== 'function') {
    throw new OutpostError(
      'unauthorized',
      `${who === 'site' ? 'agent' : 'relay'} calls need TLS with the ${who} client certificate`,
    );
  }
  // getPeerX509Certificate wraps the certificate OpenSSL holds (~5 µs); getPeerCertificate would
  // convert every field to a JS object (~160 µs), a large share of a report's cost on the hub
  const peer = socket.getPeerX509Certificate();
  if (!peer?.serialNumber) throw new OutpostError('unauthorized', 'no client certificate presented');
  if (!socket.authorized) {
    throw new OutpostError(
      'unauthorized',
      `client certificate refused: ${String(socket.authorizationError)}`,
    );
  }
  const serial = normalizeSerialHex(peer.serialNumber);
  verifiedSerials.set(socket, serial);
  return serial;
}

/** The active site a certificate lookup found; `wanted` is the site id a path names (see siteOfConnection). */
function activeSite(found: CertificateLookup, wanted: string | undefined): AgentSite {
  if ('refused' in found) throw new OutpostError('unauthorized', found.refused);
  if (wanted !== undefined && wanted !== found.siteId) {
    throw new OutpostError('forbidden', 'this certificate belongs to another site');
  }
  const site = found.site;
  if (!site) throw new OutpostError('unauthorized', 'unknown site');
  if (site.lifecycle !== 'Active')
    throw new OutpostError('forbidden', `site ${site.name} is ${site.lifecycle}`);
  return site;
}

/**
 * The active site whose certificate the client presented on this TLS connection; `wanted` is the site
 * id a path names, refused when the certificate belongs to another. For routes and for the tunnel's
 * upgrade request alike.
 */
export async function siteOfConnection(
  ctx: HubContext,
  socket: Partial<TLSSocket>,
  wanted: string | undefined,
): Promise<AgentSite> {
  return activeSite(await ctx.certificateSites.lookup(ctx, presentedSerial(socket, 'site')), wanted);
}

/**
 * The agent routes' authentication. A remembered certificate (nearly every request of a connected
 * agent) is settled at once: no promise, no turn of the microtask queue; otherwise it is read.
 */
export function siteAuth(ctx: HubContext) {
  return (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
    const readAt = ctx.desiredWatch.generation;
    const wanted = (request.params as { siteId?: string } | undefined)?.siteId;
    // done() runs the rest of the request at once: it stays outside the try, so a throw there is not
    // taken for a refusal and answered twice
    let serial: string;
    let site: AgentSite | undefined;
    try {
      serial = presentedSerial(request.raw.socket as Partial<TLSSocket>, 'site');
      const found = ctx.certificateSites.remembered(serial);
      if (found) site = activeSite(found, wanted);
    } catch (e) {
      done(e as Error);
      return;
    }
    if (site) {
      request.site = site;
      request.siteReadAt = readAt;
      done();
      return;
    }
    ctx.certificateSites.lookup(ctx, serial).then((read) => {
      try {
        request.site = activeSite(read, wanted);
      } catch (e) {
        done(e as Error);
        return;
      }
      request.siteReadAt = readAt;
      done();
    }, done);
  };
}

export function actorOf(request: FastifyRequest): Actor {
  const who = request.operator
    ? `token:${request.operator.name}`
    : request.site
      ? `site:${request.site.name}`
      : 'anonymous';
  return { name: who, source: request.ip };
}
