// Turns every failure into the same JSON shape with a stable code: Outpost errors as they are, schema
// violations as request_invalid, anything unexpected as internal (logged, never leaked).

import type { FastifyError, FastifyInstance } from 'fastify';
import { OutpostError } from '../../model/errors.ts';

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
      const code = err.statusCode === 413 ? 'request_invalid' : 'request_invalid';
      return reply.status(err.statusCode).send({ error: { code, message: err.message } });
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
