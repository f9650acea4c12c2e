// Gzip request bodies for the agent API, at the hub and at a relay: inflated on the way to the JSON
// parser and cut off at a limit, so a small body that inflates to gigabytes costs nothing.

import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { FastifyRequest } from 'fastify';

function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}

/**
 * Inflates a gzip body on the way to the JSON parser, cut off at `limit` inflated bytes: a small body
 * that inflates to gigabytes (a zip bomb) is refused with 413 and the inflation stops there.
 */
export function gunzipBody(limit: number) {
  return async (request: FastifyRequest, _reply: unknown, payload: NodeJS.ReadableStream) => {
    const encoding = request.headers['content-encoding'];
    if (encoding === undefined || encoding === 'identity') return payload;
    if (encoding !== 'gzip') throw httpError(415, `content-encoding ${encoding} is not supported; use gzip`);
    let inflated = 0;
    let encoded = 0;
    payload.on('data', (chunk: Buffer) => {
      encoded += chunk.length;
      capped.receivedEncodedLength = encoded;
    });
    const capped: Transform & { receivedEncodedLength?: number } = new Transform({
      transform(chunk: Buffer, _enc, done) {
        inflated += chunk.length;
        if (inflated > limit) done(httpError(413, `the body inflates to more than ${limit} bytes`));
        else done(null, chunk);
      },
    });
    pipeline(payload, createGunzip(), capped).catch((err: Error & { statusCode?: number }) => {
      err.statusCode ??= 400;
      capped.destroy(err);
    });
    return capped;
  };
}
