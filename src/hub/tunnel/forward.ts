// One operator request through a site's tunnel: checked against the session's mode, sent as a stream
// on the site's HTTP/2 tunnel (request and response bodies stream, so watches work), and audited with
// who, site, verb, path and the status the site's apiserver (or the hub's refusal) answered.

import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OutpostError } from '../../model/errors.ts';
import { kubeRequestShape, tunnelRefusal } from '../../model/tunnel.ts';
import { audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import type { TunnelSession } from './sessions.ts';
import type { SiteTunnels } from './site-tunnels.ts';

/**
 * Headers that never cross the tunnel: hop-by-hop ones (HTTP/2 forbids them), the operator's tunnel
 * credential (the site's apiserver sees the agent's own), and impersonation, which would make the
 * audit row name someone other than who acted.
 */
function crossing(headers: IncomingHttpHeaders | NodeJS.Dict<string | string[]>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    const n = name.toLowerCase();
    if (n.startsWith(':') || n.startsWith('impersonate-') || n.startsWith('proxy-')) continue;
    if (
      [
        'host',
        'authorization',
        'cookie',
        'connection',
        'keep-alive',
        'transfer-encoding',
        'upgrade',
        'te',
        'http2-settings',
      ].includes(n)
    ) {
      continue;
    }
    if (value !== undefined) out[n] = value;
  }
  return out;
}

export interface TunnelTarget {
  session: TunnelSession;
  siteName: string;
  /** the Kubernetes API path and query, the tunnel's prefix taken off */
  kubePath: string;
}

export async function forwardThroughTunnel(
  ctx: HubContext,
  tunnels: SiteTunnels,
  request: FastifyRequest,
  reply: FastifyReply,
  target: TunnelTarget,
): Promise<void> {
  const { session, siteName, kubePath } = target;
  const url = new URL(kubePath, 'http://site');
  const method = request.method.toUpperCase();
  const shape = kubeRequestShape(method, url.pathname, url.searchParams);
  const record = (status: number, note?: string) =>
    audit(
      ctx.store.db,
      ctx.now(),
      { name: `token:${session.operator}`, source: request.ip },
      'site.tunnel.request',
      `site/${siteName}`,
      {
        session: session.id,
        mode: session.mode,
        verb: shape.verb,
        resource: shape.resource,
        ...(shape.subresource ? { subresource: shape.subresource } : {}),
        method,
        path: kubePath.slice(0, 1024),
        status,
        ...(note ? { note } : {}),
      },
    );
  const refusal = tunnelRefusal(session.mode, shape);
  if (refusal) {
    await record(403, refusal);
    throw new OutpostError('forbidden', refusal, { site: siteName });
  }
  let tunnel: http2.ClientHttp2Session;
  try {
    tunnel = await tunnels.connection(session.siteId, siteName);
  } catch (e) {
    const err = e as OutpostError;
    await record(err.status ?? 503, err.message);
    throw e;
  }
  const bodyless = method === 'GET' || method === 'HEAD';
  const stream = tunnel.request(
    { ...crossing(request.headers), ':method': method, ':path': kubePath },
    { endStream: bodyless },
  );
  if (!bodyless) request.raw.pipe(stream);
  // the operator went away (a watch ended by ^C): the site stops sending too
  reply.raw.once('close', () => {
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
  });
  await new Promise<void>((resolve, reject) => {
    stream.once('response', (headers) => {
      const status = Number(headers[':status']);
      reply.hijack();
      reply.raw.writeHead(status, crossing(headers) as Record<string, string | string[]>);
      // a watch may say nothing for minutes; its client waits for the head before anything else
      reply.raw.flushHeaders();
      stream.pipe(reply.raw);
      record(status).then(resolve, reject);
    });
    stream.once('error', (e) => {
      if (reply.sent || reply.raw.headersSent) {
        reply.raw.destroy();
        resolve();
        return;
      }
      const err = new OutpostError('unavailable', `the tunnel to site ${siteName} broke: ${e.message}`, {
        site: siteName,
      });
      record(503, err.message).then(() => reject(err), reject);
    });
  });
}
