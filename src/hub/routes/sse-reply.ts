// Opens a Server-Sent Events answer on a Fastify reply: the head, a signal that fires when the viewer
// leaves, and a write that waits for the socket to drain. The event and log streams both answer this way.

import { once } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseReply {
  /** aborted when the viewer's connection closes */
  gone: AbortSignal;
  /** writes raw event-stream text, waiting for the socket to drain (rejects once the viewer is gone) */
  write(text: string): Promise<void>;
  /** ends the answer; `destroy` also drops the socket (the hub is closing: no keep-alive wait) */
  end(destroy?: boolean): void;
}

export function openSse(request: FastifyRequest, reply: FastifyReply): SseReply {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const gone = new AbortController();
  request.raw.once('close', () => gone.abort());
  res.once('close', () => gone.abort());
  return {
    gone: gone.signal,
    async write(text) {
      if (!res.write(text)) await once(res, 'drain', { signal: gone.signal });
    },
    end(destroy = false) {
      if (destroy) res.end(() => res.socket?.destroy());
      else res.end();
    },
  };
}
