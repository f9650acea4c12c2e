// Assembles the hub's HTTP server: the operator API, the agent API, the OpenAPI document, health and
// /metrics, and owns the background status sweeper, rollout ticker and telemetry upkeep (started when
// ready, stopped on close; with replicas they run on the leader only), the remote-write forwarder and
// the replica coordination (closed with the server).

import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { operatorAuth } from './auth.ts';
import type { HubContext } from './context.ts';
import { Periodic } from './periodic.ts';
import { tickRollouts } from './rollout/controller.ts';
import { agentRoutes } from './routes/agent.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { dashboardApiRoutes } from './routes/dashboard-api.ts';
import { installErrorHandling } from './routes/errors.ts';
import { fleetRoutes } from './routes/fleet.ts';
import { hookRoutes } from './routes/hooks.ts';
import { operatorRoutes } from './routes/operator.ts';
import { sloRoutes } from './routes/slo.ts';
import { evaluateSloAlerts } from './slo/alerts.ts';
import { deliverAlerts } from './slo/webhooks.ts';
import { statusPass } from './status/connectivity.ts';
import { pruneTelemetry } from './telemetry/prune.ts';

export interface ServerOptions {
  logger?: boolean | { level: string; stream?: NodeJS.WritableStream };
  /** serve HTTPS, asking (not requiring) every client for a certificate: agents must present one, operators need not */
  https?: { key: string; cert: string; ca: string };
}

export async function buildServer(ctx: HubContext, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const logger =
    typeof opts.logger === 'object'
      ? {
          ...opts.logger,
          redact: {
            paths: ['req.headers.authorization', 'req.body.token', 'req.body.ticket'],
            censor: '[redacted]',
          },
        }
      : (opts.logger ?? false);
  const app = Fastify({
    logger,
    ...(opts.https
      ? {
          https: {
            ...opts.https,
            requestCert: true,
            rejectUnauthorized: false,
            minVersion: 'TLSv1.2' as const,
          },
        }
      : {}),
    // long-polls are held up to maxWaitSeconds; keep the socket a little longer than that
    requestTimeout: (ctx.config.maxWaitSeconds + 30) * 1000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  ctx.log = (message, fields) => app.log.info(fields ?? {}, message);
  // held long-polls and event streams would otherwise keep a closing server waiting
  app.addHook('preClose', async () => {
    ctx.desiredWatch.close();
    ctx.events.close();
  });
  // replicas on one PostgreSQL run these on the leader alone; a single process always leads
  const sweeper = new Periodic(
    async () => ctx.coordination.leading && (await statusPass(ctx)),
    () => ctx.config.connectivity.sweepIntervalMs,
    (err) => app.log.error({ err }, 'status sweep failed'),
  );
  app.addHook('onReady', async () => {
    if (ctx.config.connectivity.sweepIntervalMs > 0) sweeper.start();
  });
  app.addHook('onClose', async () => sweeper.close());
  const ticker = new Periodic(
    async () => ctx.coordination.leading && (await tickRollouts(ctx)),
    () => ctx.config.rollouts.tickIntervalMs,
    (err) => app.log.error({ err }, 'rollout tick failed'),
  );
  app.addHook('onReady', async () => {
    if (ctx.config.rollouts.tickIntervalMs > 0) ticker.start();
  });
  app.addHook('onClose', async () => ticker.close());
  // telemetry upkeep: SLO alerts, webhook deliveries, retention (state and deliveries are compare-and-set,
  // but one replica doing it is enough)
  const telemetry = new Periodic(
    async () => {
      if (!ctx.coordination.leading) return;
      await evaluateSloAlerts(ctx);
      await deliverAlerts(ctx);
      await pruneTelemetry(ctx);
    },
    () => ctx.config.alerts.intervalMs,
    (err) => app.log.error({ err }, 'telemetry pass failed'),
  );
  app.addHook('onReady', async () => {
    if (ctx.config.alerts.intervalMs > 0) telemetry.start();
    ctx.remoteWrite?.start();
  });
  app.addHook('onClose', async () => {
    await telemetry.close();
    await ctx.remoteWrite?.close();
    await ctx.coordination.close();
  });
  app.addHook('onResponse', async (request, reply) => {
    ctx.metrics.observeRequest(
      request.method,
      request.routeOptions.url,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Outpost hub', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // No site appears in a label here, so the fleet's shape is all it tells; still, a scraper needs a
  // viewer token (Prometheus: `authorization: { credentials_file: … }`) unless the hub was told otherwise.
  const metricsAuth = ctx.config.metricsPublic ? {} : { preHandler: operatorAuth(ctx) };
  app.get(
    '/metrics',
    { schema: { hide: true }, config: { role: 'viewer' }, ...metricsAuth },
    async (_request, reply) => {
      reply.header('content-type', ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );
  await app.register(operatorRoutes(ctx), { prefix: '/api/v1' });
  await app.register(fleetRoutes(ctx), { prefix: '/api/v1' });
  await app.register(sloRoutes(ctx), { prefix: '/api/v1' });
  await app.register(dashboardApiRoutes(ctx), { prefix: '/api/v1' });
  if (!(await dashboardRoutes(app))) app.log.warn('dashboard not built: run scripts/build-web.sh');
  await app.register(hookRoutes(ctx), { prefix: '/hooks' });
  await app.register(agentRoutes(ctx), { prefix: '/agent/v1' });
  return app;
}
