// An in-process hub on in-memory SQLite with a clock the test moves, plus the calls an agent and an
// operator make through fastify inject. The background sweeper is off: tests sweep when they mean to.

import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { contextFromConfig, type HubContext } from '../../src/hub/context.ts';
import { buildServer } from '../../src/hub/server.ts';
import { sweepConnectivity } from '../../src/hub/status/connectivity.ts';
import { bundleFile } from './fleet.ts';

export const operator = { authorization: 'Bearer op-secret' };

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
  ): Promise<Record<string, string>>;
  applyBundle(name: string, selector: unknown, data?: Record<string, string>): Promise<void>;
  desired(site: Record<string, string>): Promise<Array<{ bundle: string; digest: string; revision: number }>>;
  report(site: Record<string, string>, body: object): Promise<{ accepted: boolean; lastSeq: number }>;
  get<T = unknown>(url: string): Promise<T>;
  post<T = unknown>(url: string, body: object): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export async function memoryHub(
  config: Partial<Parameters<typeof contextFromConfig>[0]> = {},
): Promise<MemoryHub> {
  let now = new Date('2026-01-01T00:00:00.000Z');
  const ctx = await contextFromConfig(
    {
      database: ':memory:',
      operatorToken: 'op-secret',
      registrationToken: 'reg-secret',
      maxWaitSeconds: 2,
      ...config,
      connectivity: { sweepIntervalMs: 0, ...config.connectivity },
    },
    { now: () => now },
  );
  const app = await buildServer(ctx);
  const hub: MemoryHub = {
    ctx,
    app,
    advance(ms) {
      now = new Date(now.getTime() + ms);
    },
    sweep: () => sweepConnectivity(ctx),
    async register(name, labels = {}, properties = {}) {
      const r = await app.inject({
        method: 'POST',
        url: '/agent/v1/register',
        payload: { token: 'reg-secret', name, labels, properties },
      });
      assert.equal(r.statusCode, 200, r.body);
      return { authorization: `Bearer ${r.json().credential}` };
    },
    async applyBundle(name, selector, data = { a: '1' }) {
      const manifest = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: 'default' },
        data,
      };
      const r = await app.inject({
        method: 'POST',
        url: '/api/v1/bundles/apply',
        headers: operator,
        payload: bundleFile(name, selector, [manifest]),
      });
      assert.equal(r.statusCode, 200, r.body);
    },
    async desired(site) {
      const r = await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: site });
      assert.equal(r.statusCode, 200, r.body);
      return r.json().deployments;
    },
    async report(site, body) {
      const r = await app.inject({ method: 'POST', url: '/agent/v1/report', headers: site, payload: body });
      assert.equal(r.statusCode, 200, r.body);
      return r.json();
    },
    async get(url) {
      const r = await app.inject({ method: 'GET', url, headers: operator });
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      return r.json();
    },
    async post(url, body) {
      const r = await app.inject({ method: 'POST', url, headers: operator, payload: body });
      return { status: r.statusCode, body: r.json() };
    },
    async close() {
      await app.close();
      await ctx.store.close();
    },
  };
  return hub;
}

/**
 * Every aggregate recounted from the sites and deployments tables by brute force, written from the
 * definition (not from the delta code): what status_aggregates must equal at every moment.
 */
export async function recountAggregates(ctx: HubContext): Promise<Map<string, number>> {
  const sites = await ctx.store.db.selectFrom('sites').selectAll().execute();
  const deployments = await ctx.store.db
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
    const s = byId.get(d.site_id)!;
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

export async function storedAggregates(ctx: HubContext): Promise<Map<string, number>> {
  const rows = await ctx.store.db
    .selectFrom('status_aggregates')
    .selectAll()
    .where('count', '!=', 0)
    .execute();
  return new Map(rows.map((r) => [`${r.dimension}|${r.key}|${r.metric}`, Number(r.count)]));
}

export function sortedEntries(m: Map<string, number>): Array<[string, number]> {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
