// Assembles the hub's HTTP server: the operator API, the agent API, the OpenAPI document, health and
// /metrics, and owns the background status sweeper, rollout ticker, chart renderer and telemetry upkeep
// (started when ready, stopped on close; with replicas they run on the leader only). The context it
// serves outlives it: whoever built the context closes it.

import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { DisposableStore } from '../base/lifecycle.ts';
import { operatorAuth } from './auth.ts';
import type { HubContext } from './context.ts';
import { renderWantedCharts } from './generators/chart-renderer.ts';
import { expireOperations } from './operations/operations.ts';
import { Periodic } from './periodic.ts';
import { placeOverdue } from './placement/place.ts';
import { judgeOverdue } from './profiles/conformance-kept.ts';
import { tickProfileRollouts } from './profiles/profile-rollouts.ts';
import { tickRollouts } from './rollout/controller.ts';
import { agentRoutes } from './routes/agent.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { dashboardApiRoutes } from './routes/dashboard-api.ts';
import { frameworkErrors, installErrorHandling } from './routes/errors.ts';
import { fleetRoutes } from './routes/fleet.ts';
import { hookRoutes } from './routes/hooks.ts';
import { operationRoutes } from './routes/operations.ts';
import { operatorRoutes } from './routes/operator.ts';
import { profileRoutes } from './routes/profiles.ts';
import { relayAdminRoutes, relayRoutes } from './routes/relay.ts';
import { releaseRoutes } from './routes/releases.ts';
import { sealingRoutes } from './routes/sealing.ts';
import { sloRoutes } from './routes/slo.ts';
import { tunnelAgentRoutes, tunnelProxyRoutes, tunnelSessionRoutes } from './routes/tunnel.ts';
import { evaluateSloAlerts } from './slo/alerts.ts';
import { deliverAlerts } from './slo/webhooks.ts';
import { foldDeltas, foldIntervalMs } from './status/aggregate-store.ts';
import { statusPass } from './status/connectivity.ts';
import { pruneTelemetry } from './telemetry/prune.ts';
import { pruneTunnelSessions } from './tunnel/sessions.ts';
import { SiteTunnels } from './tunnel/site-tunnels.ts';

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
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  // what the server starts, it ends when it closes, last started first
  const owned = new DisposableStore();
  app.addHook('onClose', () => owned.dispose());
  // left plugged in after close: the context's last lines (a replica giving up the lead) still reach it
  ctx.log.plug(app.log);
  // held long-polls and event streams would otherwise keep a closing server waiting
  // sites' tunnels: in this process alone (an agent's upgrade and an operator's requests must reach the
  // same replica); woken through the work signal, which every replica relays
  const tunnels = new SiteTunnels({
    wake: (siteIds) => ctx.work.notify(siteIds),
    dialWaitMs: 20_000,
    idleMs: 5 * 60_000,
  });
  app.addHook('preClose', async () => {
    ctx.desiredWatch.close();
    ctx.events.close();
    tunnels.close();
  });
  // Background work: started when ready; replicas on one PostgreSQL run it on the leader alone (a single
  // process always leads). Telemetry upkeep's state and deliveries are compare-and-set, but one replica
  // doing it is enough.
  const background = [
    {
      work: 'status sweep',
      run: () => statusPass(ctx),
      intervalMs: () => ctx.config.connectivity.sweepIntervalMs,
    },
    {
      // PostgreSQL's pending aggregate changes (status/aggregate-store.ts); readers add them until then
      work: 'aggregate fold',
      run: () => foldDeltas(ctx.store.db),
      intervalMs: () => (ctx.store.engine === 'postgres' ? foldIntervalMs : 0),
    },
    {
      // as often as the sweep: a fleet-wide placement cut short by a crash is taken up within a minute
      work: 'overdue placement',
      run: () => placeOverdue(ctx),
      intervalMs: () => ctx.config.connectivity.sweepIntervalMs,
    },
    {
      work: 'operation expiry',
      run: () => expireOperations(ctx),
      intervalMs: () => ctx.config.connectivity.sweepIntervalMs,
    },
    {
      work: 'tunnel session expiry',
      run: () => pruneTunnelSessions(ctx),
      intervalMs: () => ctx.config.connectivity.sweepIntervalMs,
    },
    {
      work: 'rollout tick',
      run: () => tickRollouts(ctx),
      intervalMs: () => ctx.config.rollouts.tickIntervalMs,
    },
    {
      work: 'profile conformance deadlines',
      run: () => judgeOverdue(ctx),
      intervalMs: () => ctx.config.connectivity.sweepIntervalMs,
    },
    {
      work: 'profile rollout tick',
      run: () => tickProfileRollouts(ctx),
      intervalMs: () => ctx.config.rollouts.tickIntervalMs,
    },
    {
      work: 'chart rendering',
      run: () => renderWantedCharts(ctx),
      intervalMs: () => ctx.config.generators.renderIntervalMs,
    },
    {
      work: 'telemetry pass',
      run: async () => {
        await evaluateSloAlerts(ctx);
        await deliverAlerts(ctx);
        await pruneTelemetry(ctx);
      },
      intervalMs: () => ctx.config.alerts.intervalMs,
    },
  ];
  for (const { work, run, intervalMs } of background) {
    const periodic = owned.add(
      new Periodic(
        async () => ctx.coordination.leading && (await run()),
        intervalMs,
        (err) => app.log.error({ err }, `${work} failed`),
      ),
    );
    app.addHook('onReady', async () => {
      if (intervalMs() > 0) periodic.start();
    });
  }
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
  await app.register(profileRoutes(ctx), { prefix: '/api/v1' });
  await app.register(sealingRoutes(ctx), { prefix: '/api/v1' });
  await app.register(releaseRoutes(ctx), { prefix: '/api/v1' });
  await app.register(operationRoutes(ctx), { prefix: '/api/v1' });
  await app.register(tunnelSessionRoutes(ctx), { prefix: '/api/v1' });
  await app.register(tunnelProxyRoutes(ctx, tunnels));
  await app.register(dashboardApiRoutes(ctx), { prefix: '/api/v1' });
  if (!(await dashboardRoutes(app))) app.log.warn('dashboard not built: run scripts/build-web.sh');
  await app.register(hookRoutes(ctx), { prefix: '/hooks' });
  await app.register(agentRoutes(ctx), { prefix: '/agent/v1' });
  await app.register(tunnelAgentRoutes(ctx, tunnels), { prefix: '/agent/v1' });
  await app.register(relayAdminRoutes(ctx), { prefix: '/api/v1' });
  await app.register(relayRoutes(ctx), { prefix: '/relay/v1' });
  return app;
}
