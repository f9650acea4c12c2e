// The tunnels sites' agents dialled out to this hub: one HTTP/2 connection per site, over the socket the
// agent's mTLS upgrade request left open, on which the hub opens a stream per operator request. A tunnel
// is dialled only when wanted: the first request for a site wakes its agent's poll and waits for it.

import http2, { type ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { OutpostError } from '../../model/errors.ts';
import { pipedSocket } from '../../net/piped-socket.ts';

interface Waiter {
  resolve: (session: ClientHttp2Session) => void;
  reject: (err: OutpostError) => void;
}

export interface SiteTunnelsOptions {
  /** ends these sites' held polls so their agents learn a tunnel is wanted */
  wake: (siteIds: readonly string[]) => void;
  /** how long a request waits for the site's agent to dial (or refuse) */
  dialWaitMs: number;
  /** a tunnel no stream used for this long is closed; the next request has it dialled again */
  idleMs: number;
}

export class SiteTunnels {
  readonly #opts: SiteTunnelsOptions;
  readonly #open = new Map<string, ClientHttp2Session>();
  readonly #waiting = new Map<string, Set<Waiter>>();
  #closed = false;

  constructor(opts: SiteTunnelsOptions) {
    this.#opts = opts;
  }

  /** Whether a request waits for the site's agent to dial. */
  wanted(siteId: string): boolean {
    return (this.#waiting.get(siteId)?.size ?? 0) > 0;
  }

  /** The site's tunnel, dialled now if it is not open: refused or unavailable when the agent does not come. */
  connection(siteId: string, siteName: string): Promise<ClientHttp2Session> {
    const open = this.#open.get(siteId);
    if (open && !open.closed && !open.destroyed) return Promise.resolve(open);
    if (this.#closed) return Promise.reject(new OutpostError('unavailable', 'the hub is shutting down'));
    return new Promise((resolve, reject) => {
      const waiters = this.#waiting.get(siteId) ?? new Set<Waiter>();
      this.#waiting.set(siteId, waiters);
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new OutpostError(
            'unavailable',
            `site ${siteName}'s agent did not open a tunnel within ${this.#opts.dialWaitMs / 1000} s (offline, or too old to know tunnels)`,
            { site: siteName },
          ),
        );
      }, this.#opts.dialWaitMs);
      const waiter: Waiter = {
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      waiters.add(waiter);
      this.#opts.wake([siteId]);
    });
  }

  /** The site's agent dialled: the socket becomes its tunnel (replacing an older one) and waiters get it. */
  attach(siteId: string, socket: Duplex): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const session = http2.connect('http://site.tunnel', { createConnection: () => pipedSocket(socket) });
    session.on('error', () => session.destroy());
    session.setTimeout(this.#opts.idleMs, () => session.close());
    session.once('close', () => {
      if (this.#open.get(siteId) === session) this.#open.delete(siteId);
    });
    const previous = this.#open.get(siteId);
    this.#open.set(siteId, session);
    previous?.close();
    const waiters = this.#waiting.get(siteId);
    this.#waiting.delete(siteId);
    for (const w of waiters ?? []) w.resolve(session);
  }

  /** The site's agent said no: every request waiting for it gets the reason. */
  refuse(siteId: string, siteName: string, reason: string): void {
    const waiters = this.#waiting.get(siteId);
    this.#waiting.delete(siteId);
    for (const w of waiters ?? []) w.reject(new OutpostError('tunnel_refused', reason, { site: siteName }));
  }

  /** Ends every tunnel and wait (the server is closing; upgraded sockets would hold it open). */
  close(): void {
    this.#closed = true;
    for (const session of this.#open.values()) session.destroy();
    this.#open.clear();
    for (const waiters of this.#waiting.values()) {
      for (const w of waiters) w.reject(new OutpostError('unavailable', 'the hub is shutting down'));
    }
    this.#waiting.clear();
  }
}
