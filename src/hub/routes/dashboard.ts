// Serves the web dashboard (built by scripts/build-web.sh into dist/web) under /ui/: hashed assets with
// a year-long cache, every other path under /ui/ answered with index.html so the browser's own routes
// survive a reload. Without a build the hub still runs and /ui/ says how to make one.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';

/**
 * dist/web of the checkout this file runs from, source or build (dist/app/chunks sits as deep as
 * src/hub/routes); a release says where its own copy is with OUTPOST_DASHBOARD_DIR (deploy/outpost).
 */
export const defaultDashboardDir =
  process.env.OUTPOST_DASHBOARD_DIR || fileURLToPath(new URL('../../../dist/web/', import.meta.url));

const notBuilt =
  'The dashboard is not built. Run `bash scripts/build-web.sh` (or `source scripts/setup.sh`) in the ' +
  'Outpost checkout, then restart the hub.\n';

export function dashboardBuilt(dir = defaultDashboardDir): boolean {
  return existsSync(`${dir}/index.html`);
}

/** What to tell an operator starting the hub at `url` about the dashboard. */
export function dashboardNote(url: string, dir = defaultDashboardDir): string {
  return dashboardBuilt(dir)
    ? `dashboard: ${url}/ui/ (sign in with an API token)`
    : 'dashboard not built: run `bash scripts/build-web.sh`, then restart the hub';
}

/**
 * The page holds an operator's API token, so it runs only the hub's own scripts, talks only to the
 * hub, and may not be framed by another site.
 */
export const pageHeaders: Record<string, string> = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/** true when a build was found and is served */
export async function dashboardRoutes(app: FastifyInstance, dir = defaultDashboardDir): Promise<boolean> {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  if (!dashboardBuilt(dir)) {
    app.get('/ui/*', { schema: { hide: true } }, async (_request, reply) =>
      reply.status(503).type('text/plain; charset=utf-8').send(notBuilt),
    );
    return false;
  }
  const page = (reply: FastifyReply) =>
    reply.headers(pageHeaders).type('text/html; charset=utf-8').sendFile('index.html');
  const ui: FastifyPluginAsync = async (scope) => {
    await scope.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      cacheControl: false,
      // a directory index would skip the no-cache header index.html needs
      index: false,
      setHeaders(reply, path) {
        if (path.includes('/assets/')) reply.header('cache-control', 'public, max-age=31536000, immutable');
        else reply.headers(pageHeaders);
      },
    });
    scope.get('/', { schema: { hide: true } }, async (_request, reply) => page(reply));
    // a path without a file extension is one of the dashboard's own pages; a missing file stays 404
    scope.setNotFoundHandler(async (request, reply) => {
      const path = request.url.split('?')[0] ?? '';
      if (request.method === 'GET' && !/\.[a-z0-9]+$/i.test(path)) return page(reply);
      return reply.status(404).send({ error: { code: 'not_found', message: `no file ${path}` } });
    });
  };
  await app.register(ui, { prefix: '/ui' });
  return true;
}
