// An in-process hub on in-memory SQLite with a clock the test moves, plus the calls an agent and an
// operator make through fastify inject. The background sweeper is off: tests sweep when they mean to.

import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { ConfigInput } from '../../src/hub/config.ts';
import type { HubContext } from '../../src/hub/context.ts';
import { newSiteRow } from '../../src/hub/sites/sites.ts';
import { readAggregates } from '../../src/hub/status/aggregate-store.ts';
import { sweepConnectivity } from '../../src/hub/status/connectivity.ts';
import { rebuildAggregates } from '../../src/hub/status/rebuild.ts';
import type { Db } from '../../src/hub/store/schema.ts';
import { bundleFile } from './fleet.ts';
import { type Site, startHubServer, type TestClock } from './hub-server.ts';

/** The first admin token of every memory hub: fixed, so tests can name it. */
export const adminToken = 'oat_00000000-0000-7000-8000-000000000001.op-secret-for-tests-only';
export const operator = { authorization: `Bearer ${adminToken}` };

/** A registered site as the tests hold it: its id, name and mTLS client. */
export type SiteHandle = Site;

export interface MemoryHub {
  ctx: HubContext;
  app: FastifyInstance;
  /** moves the hub's clock */
  advance(ms: number): void;
  sweep(): Promise<number>;
  register(
    name: string,
    labels?: Record<string, string>,
    properties?: Record<string, unknown>,
  ): Promise<SiteHandle>;
  applyBundle(name: string, selector: unknown, data?: Record<string, string>): Promise<void>;
  desired(site: SiteHandle): Promise<Array<{ bundle: string; digest: string; revision: number }>>;
  report(site: SiteHandle, body: object): Promise<{ accepted: boolean; lastSeq: number }>;
  get<T = unknown>(url: string): Promise<T>;
  post<T = unknown>(url: string, body: object): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/**
 * A hub on in-memory SQLite, listening on loopback HTTPS so sites talk to it over real mTLS, with a
 * clock the test moves (starting now, so certificates are valid on the wire). The background sweeper
 * is off: tests sweep when they mean to.
 */
export async function memoryHub(
  config: Partial<ConfigInput> = {},
  opts: { clock?: TestClock } = {},
): Promise<MemoryHub> {
  const server = await startHubServer(
    { ...config, connectivity: { sweepIntervalMs: 0, ...config.connectivity } },
    undefined,
    { adminToken, ...opts },
  );
  const { ctx, app } = server;
  const hub: MemoryHub = {
    ctx,
    app,
    advance: (ms) => server.clock.advance(ms),
    sweep: () => sweepConnectivity(ctx),
    async register(name, labels = {}, properties = {}) {
      // one machine per name, so registering a name again is the same site coming back
      // Certificates are checked on the wire against real time, so a site enrols at real time even when
      // the test has moved the hub's clock ahead (a certificate from the future is not yet valid).
      const r = await server.clock.atRealTime(async () => {
        const { token } = await server.joinToken({ autoApprove: true, maxUses: 1 });
        return server.register(token, { name, labels, machineId: `machine-${name}` });
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const site = server.siteClient(r.body.siteId, r.body.name, r.body.certificate!, r.keyPem);
      if (Object.keys(properties).length > 0) {
        const r = await server.operator('PATCH', `/api/v1/sites/${name}`, { properties });
        assert.equal(r.statusCode, 200, r.body);
      }
      return site;
    },
    async applyBundle(name, selector, data = { a: '1' }) {
      const manifest = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: 'default' },
        data,
      };
      const r = await server.operator(
        'POST',
        '/api/v1/bundles/apply',
        bundleFile(name, selector, [manifest]),
      );
      assert.equal(r.statusCode, 200, r.body);
    },
    async desired(site) {
      const r = await site.call('GET', '/agent/v1/sites/:site/desired');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return (r.body as { deployments: Array<{ bundle: string; digest: string; revision: number }> })
        .deployments;
    },
    async report(site, body) {
      const r = await site.call('POST', '/agent/v1/sites/:site/report', body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as { accepted: boolean; lastSeq: number };
    },
    async get(url) {
      const r = await server.operator('GET', url);
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      return r.json();
    },
    async post(url, body) {
      const r = await server.operator('POST', url, body);
      return { status: r.statusCode, body: r.json() };
    },
    close: () => server.close(),
  };
  return hub;
}

/**
 * Many Active sites written straight into the store (as registrations would leave them), then the
 * aggregates rebuilt by the hub's own code: for tests that need thousands of sites and are not about
 * registration.
 */
export async function seedSites(
  ctx: HubContext,
  sites: ReadonlyArray<{ name: string; labels: Record<string, string> }>,
): Promise<void> {
  const now = ctx.now().toISOString();
  const rows = sites.map((s, i) =>
    newSiteRow({
      id: `seeded-${String(i).padStart(8, '0')}`,
      name: s.name,
      labels: JSON.stringify(s.labels),
      lifecycle: 'Active',
      registered_at: now,
      last_seen_at: now,
    }),
  );
  for (let i = 0; i < rows.length; i += 500) {
    await ctx.store.db
      .insertInto('sites')
      .values(rows.slice(i, i + 500))
      .execute();
  }
  await rebuildAggregates(ctx);
}

/**
 * Every aggregate recounted from the sites and deployments tables by brute force, written from the
 * definition (not from the delta code): what status_aggregates must equal at every moment.
 */
export async function recountAggregates(
  ctx: HubContext,
  opts: { db?: Db; keep?: (labels: Record<string, string>) => boolean } = {},
): Promise<Map<string, number>> {
  const db = opts.db ?? ctx.store.db;
  const keep = opts.keep ?? (() => true);
  const sites = (await db.selectFrom('sites').selectAll().execute()).filter((s) =>
    keep(JSON.parse(s.labels)),
  );
  const deployments = await db
    .selectFrom('deployments')
    .selectAll()
    .where('desired_digest', 'is not', null)
    .execute();
  const out = new Map<string, number>();
  const inc = (dimension: string, key: string, metric: string) => {
    const id = `${dimension}|${key}|${metric}`;
    out.set(id, (out.get(id) ?? 0) + 1);
  };
  const byId = new Map(sites.map((s) => [s.id, s]));
  for (const s of sites) {
    const labels = JSON.parse(s.labels) as Record<string, string>;
    inc('fleet', '', 'sites');
    inc('fleet', '', `lifecycle:${s.lifecycle}`);
    if (s.lifecycle === 'Active') inc('fleet', '', `connectivity:${s.connectivity}`);
    for (const k of ctx.config.aggregateLabels) {
      if (labels[k] === undefined) continue;
      inc('label', `${k}=${labels[k]}`, 'sites');
      if (s.lifecycle === 'Active') inc('label', `${k}=${labels[k]}`, `connectivity:${s.connectivity}`);
    }
  }
  for (const d of deployments) {
    const s = byId.get(d.site_id);
    if (!s) continue;
    const labels = JSON.parse(s.labels) as Record<string, string>;
    const active = s.lifecycle === 'Active';
    inc('fleet', '', `state:${d.state}`);
    inc('bundle', d.bundle, `state:${d.state}`);
    inc('revision', `${d.bundle}@${d.desired_revision}`, `state:${d.state}`);
    if (active) {
      inc('bundle', d.bundle, `connectivity:${s.connectivity}`);
      inc('revision', `${d.bundle}@${d.desired_revision}`, `connectivity:${s.connectivity}`);
    }
    for (const k of ctx.config.aggregateLabels) {
      if (labels[k] !== undefined) inc('label', `${k}=${labels[k]}`, `state:${d.state}`);
    }
  }
  return out;
}

/** The aggregates as the hub's readers see them (cells plus PostgreSQL's pending changes), zeros left out. */
export async function storedAggregates(ctx: HubContext, db: Db = ctx.store.db): Promise<Map<string, number>> {
  const rows = (await readAggregates(db)).filter((r) => r.count !== 0);
  return new Map(rows.map((r) => [`${r.dimension}|${r.key}|${r.metric}`, r.count]));
}

export function sortedEntries(m: Map<string, number>): Array<[string, number]> {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
