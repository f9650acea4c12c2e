// The site's end of a troubleshooting tunnel: when the hub says an operator wants one, the agent dials
// out over its own mTLS identity and answers each request the hub sends on it from the site's
// Kubernetes API, with the agent's own credentials. A site configured without tunnels refuses instead.

import http from 'node:http';
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { pipedSocket } from '../net/piped-socket.ts';
import type { HubClient } from './hub-client.ts';
import type { KubeConnection } from './kube/config.ts';

/** Headers that belong to one hop (HTTP/1.1 to the apiserver, HTTP/2 to the hub), never carried across. */
const hopByHop = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'te',
  'proxy-connection',
  'http2-settings',
]);

function carried(headers: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || hopByHop.has(name) || value === undefined) continue;
    out[name] = value;
  }
  return out;
}

export interface SiteTunnelOptions {
  /** the site's Kubernetes API as tunnels reach it; without it the site refuses every tunnel */
  kube: KubeConnection | undefined;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class SiteTunnel {
  readonly #opts: SiteTunnelOptions;
  readonly #server = http2.createServer();
  readonly #kubeAgent: http.Agent;
  readonly #sockets = new Set<Duplex>();

  constructor(opts: SiteTunnelOptions) {
    this.#opts = opts;
    const tls = opts.kube?.tls ?? {};
    this.#kubeAgent = opts.kube?.server.startsWith('https:')
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 16,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: !tls.insecure,
        })
      : new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.#server.on('request', (req, res) => this.#forward(req, res));
  }

  /**
   * The poll said work waits: if a tunnel is what waits, dial it (or refuse it, by configuration). A
   * failure is logged, not thrown: the operator's request times out at the hub, and the poll goes on.
   */
  async answer(hub: HubClient): Promise<void> {
    try {
      await this.#answer(hub);
    } catch (e) {
      this.#opts.log?.('tunnel not opened', { error: (e as Error).message });
    }
  }

  async #answer(hub: HubClient): Promise<void> {
    if (!(await hub.tunnelWanted())) return;
    if (!this.#opts.kube) {
      this.#opts.log?.('tunnel refused: tunnels are off at this site');
      await hub.refuseTunnel('tunnels are turned off at this site (agent --tunnel off)');
      return;
    }
    const socket = await hub.dialTunnel();
    this.#opts.log?.('tunnel opened');
    const plain = pipedSocket(socket);
    this.#sockets.add(plain);
    plain.once('close', () => {
      this.#sockets.delete(plain);
      this.#opts.log?.('tunnel closed');
    });
    this.#server.emit('connection', plain);
  }

  /** One request from the hub, sent on to the site's apiserver as the agent; the answer streams back. */
  #forward(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const kube = this.#opts.kube!;
    const url = new URL(`${kube.server.replace(/\/$/, '')}${req.url}`);
    const token = kube.token?.();
    const headers = { ...carried(req.headers), ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const lib = url.protocol === 'https:' ? https : http;
    const out = lib.request(url, { method: req.method, headers, agent: this.#kubeAgent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, carried(answer.headers));
      answer.pipe(res);
    });
    out.on('error', (e) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { code: 'unavailable', message: `the site's Kubernetes API did not answer: ${e.message}` },
        }),
      );
    });
    // the hub cancelled the stream (the operator ended a watch): the apiserver request ends too
    res.once('close', () => out.destroy());
    req.pipe(out);
  }

  /** Ends the open tunnels (the agent is stopping). */
  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.#server.close();
    this.#kubeAgent.destroy();
  }
}
