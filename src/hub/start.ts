// Starts a hub process: data directory, secrets (made on first start, kept with mode 0600), store,
// HTTP server. Returns what a caller needs to print or stop it.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { contextFromConfig, type HubContext } from './context.ts';
import { newCredential } from './credentials.ts';
import { buildServer } from './server.ts';

export interface StartHubOptions {
  dataDir: string;
  /** host:port; port 0 picks a free one */
  listen?: string;
  /** defaults to DATA_DIR/hub.db */
  database?: string;
  operatorToken?: string;
  registrationToken?: string;
  logger?: boolean | { level: string };
  maxWaitSeconds?: number;
  /** label keys with their own status aggregates (default region, format) */
  aggregateLabels?: string[];
}

export interface RunningHub {
  url: string;
  operatorToken: string;
  registrationToken: string;
  ctx: HubContext;
  app: FastifyInstance;
  close(): Promise<void>;
}

interface Secrets {
  operatorToken: string;
  registrationToken: string;
}

async function loadSecrets(dataDir: string): Promise<Secrets> {
  const path = join(dataDir, 'secrets.json');
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Secrets;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const secrets = { operatorToken: newCredential('op'), registrationToken: newCredential('reg') };
    await writeFile(path, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: 'wx' });
    return secrets;
  }
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen takes host:port, got "${listen}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
}

export async function startHub(opts: StartHubOptions): Promise<RunningHub> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const secrets = await loadSecrets(dataDir);
  const operatorToken = opts.operatorToken ?? secrets.operatorToken;
  const registrationToken = opts.registrationToken ?? secrets.registrationToken;
  const ctx = await contextFromConfig({
    database: opts.database ?? join(dataDir, 'hub.db'),
    operatorToken,
    registrationToken,
    ...(opts.maxWaitSeconds !== undefined ? { maxWaitSeconds: opts.maxWaitSeconds } : {}),
    ...(opts.aggregateLabels ? { aggregateLabels: opts.aggregateLabels } : {}),
  });
  const app = await buildServer(ctx, { logger: opts.logger ?? false });
  const { host, port } = parseListen(opts.listen ?? '127.0.0.1:7070');
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  return {
    url,
    operatorToken,
    registrationToken,
    ctx,
    app,
    async close() {
      await app.close();
      await ctx.store.close();
    },
  };
}
