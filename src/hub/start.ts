// Starts a hub process: data directory, CA and serving certificate, store, the first admin token
// (made on first start and returned once), and the HTTPS server that also asks agents for their
// client certificates.

import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { DisposableStore } from '../base/lifecycle.ts';
import type { ConnectivityThresholds } from '../model/site.ts';
import { contextFromConfig } from './assemble.ts';
import type { BundleLimits } from './bundles/revisions.ts';
import type {
  HubAlertsConfig,
  HubConfig,
  HubGeneratorsConfig,
  HubReleasesConfig,
  HubRolloutsConfig,
  HubTelemetryConfig,
} from './config.ts';
import type { HubContext } from './context.ts';
import { ensureFirstAdmin } from './identity/api-tokens.ts';
import { hubTls } from './identity/ca.ts';
import { buildServer } from './server.ts';
import { startSourcePoller } from './sources/poller.ts';

export interface StartHubOptions {
  dataDir: string;
  /** host:port; port 0 picks a free one */
  listen?: string;
  /** the URL agents reach this hub at (default: https://LISTEN) */
  publicUrl?: string;
  /** defaults to DATA_DIR/hub.db; a postgres:// URL for replicas */
  database?: string;
  /** the first admin token, when the operator wants to choose it (e.g. from OUTPOST_ADMIN_TOKEN) */
  adminToken?: string;
  caCertFile?: string;
  caKeyFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** extra names for the generated serving certificate */
  tlsNames?: string[];
  logger?: boolean | { level: string; stream?: NodeJS.WritableStream };
  maxWaitSeconds?: number;
  certificateValidityDays?: number;
  connectivity?: ConnectivityThresholds;
  /** bundle size and object-count limits (defaults: 8 MiB, 2000 objects) */
  limits?: Partial<BundleLimits>;
  /** how often the git source poller looks for sources due a sync (default 1000 ms) */
  sourcePollMs?: number;
  now?: () => Date;
  /** label keys with their own status aggregates (default region, format) */
  aggregateLabels?: string[];
  /** retention, gate window, remote-write */
  telemetry?: Partial<HubTelemetryConfig>;
  /** SLO alert receivers, repeat and retry */
  alerts?: Partial<HubAlertsConfig>;
  /** how often the rollout controller steps (default 5 s; the demo steps faster) */
  rollouts?: Partial<HubRolloutsConfig>;
  /** PostgreSQL pool size, timeouts and leader checks */
  postgres?: HubConfig['postgres'];
  /** serve /metrics without an API token (default: a viewer token is needed) */
  metricsPublic?: boolean;
  /** helm and kustomize for generated bundles (default: found on PATH) */
  generators?: Partial<HubGeneratorsConfig>;
  /** the release key's public half and the size limit of agent releases */
  releases?: Partial<HubReleasesConfig>;
  /** how states served through relays are signed (default: tree) */
  relaySignatures?: HubConfig['relaySignatures'];
}

export interface RunningHub {
  url: string;
  /** set only on the start that created it: it is not stored anywhere in clear */
  adminToken: string | undefined;
  caPem: string;
  caFile: string | undefined;
  ctx: HubContext;
  app: FastifyInstance;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen takes host:port, got "${listen}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
}

export async function startHub(opts: StartHubOptions): Promise<RunningHub> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const now = opts.now ?? (() => new Date());
  const tls = await hubTls({
    dataDir,
    caCertFile: opts.caCertFile,
    caKeyFile: opts.caKeyFile,
    tlsCertFile: opts.tlsCertFile,
    tlsKeyFile: opts.tlsKeyFile,
    names: opts.tlsNames,
    now: now(),
  });
  const { host, port } = parseListen(opts.listen ?? '127.0.0.1:7070');
  // the context, the server and the poller, ended in reverse on close (or when starting fails half-way)
  const owned = new DisposableStore();
  try {
    const ctx = owned.add(
      await contextFromConfig(
        {
          database: opts.database ?? join(dataDir, 'hub.db'),
          ...(opts.publicUrl !== undefined ? { publicUrl: opts.publicUrl } : {}),
          ...(opts.maxWaitSeconds !== undefined ? { maxWaitSeconds: opts.maxWaitSeconds } : {}),
          ...(opts.certificateValidityDays !== undefined
            ? { certificateValidityDays: opts.certificateValidityDays }
            : {}),
          ...(opts.connectivity ? { connectivity: opts.connectivity } : {}),
          ...(opts.aggregateLabels ? { aggregateLabels: opts.aggregateLabels } : {}),
          ...(opts.limits ? { limits: opts.limits } : {}),
          ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
          ...(opts.alerts ? { alerts: opts.alerts } : {}),
          ...(opts.rollouts ? { rollouts: opts.rollouts } : {}),
          ...(opts.postgres ? { postgres: opts.postgres } : {}),
          ...(opts.metricsPublic ? { metricsPublic: true } : {}),
          ...(opts.generators ? { generators: opts.generators } : {}),
          ...(opts.releases ? { releases: opts.releases } : {}),
          ...(opts.relaySignatures ? { relaySignatures: opts.relaySignatures } : {}),
          sourcesDir: join(dataDir, 'sources'),
        },
        { tls, now },
      ),
    );
    const adminToken = await ensureFirstAdmin(ctx, opts.adminToken);
    const app = owned.add(
      await buildServer(ctx, {
        logger: opts.logger ?? false,
        https: { key: tls.serverKeyPem, cert: tls.serverCertPem, ca: tls.ca.certPem },
      }),
    );
    await app.listen({ host, port });
    const address = app.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const url = `https://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    // only now is the port known when the hub was asked for any free one
    if (opts.publicUrl === undefined) ctx.publicUrl.current = url;
    owned.add(startSourcePoller(ctx, { tickMs: opts.sourcePollMs }));
    return {
      url,
      adminToken,
      caPem: tls.ca.certPem,
      caFile: opts.caCertFile ?? join(dataDir, 'ca.crt'),
      ctx,
      app,
      close: () => owned.dispose(),
    };
  } catch (e) {
    await owned.dispose();
    throw e;
  }
}
