// Turns every failure into the same JSON shape with a stable code: Outpost errors as they are, schema
// violations as request_invalid, a store that cannot write now as unavailable, the rest as internal.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OutpostError } from '../../model/errors.ts';
import { storeUnavailable } from '../store/unavailable.ts';

/** How long an agent told the store is unavailable waits before it asks again. */
const storeRetryAfterSeconds = 5;

/**
 * Fastify's own refusals before routing (a malformed percent-escape in the URL, a path parameter past
 * its length limit) skip the error handler: they get the same shape and code as every other bad request.
 */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  void reply.status(status).send(new OutpostError('request_invalid', err.message).toBody());
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof OutpostError) return reply.status(err.status).send(err.toBody());
    if (err.validation) {
      const first = err.validation[0];
      const where = first?.instancePath
        ? `${err.validationContext ?? 'body'}${first.instancePath}`
        : err.validationContext;
      const message = `${where ? `${where}: ` : ''}${first?.message ?? err.message}`;
      return reply.status(400).send(new OutpostError('request_invalid', message).toBody());
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send(new OutpostError('request_invalid', err.message).toBody());
    }
    const unavailable = storeUnavailable(err);
    if (unavailable) {
      request.log.error({ err }, unavailable.message);
      return reply.status(503).header('retry-after', storeRetryAfterSeconds).send(unavailable.toBody());
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send(new OutpostError('internal', 'internal error; see the hub log').toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send(new OutpostError('not_found', `no route ${request.method} ${request.url}`).toBody());
  });
}
