// A hub listening on real HTTPS with an in-memory SQLite (or a scratch PostgreSQL) store and a controllable clock, plus helpers to
// act as an operator (in-process inject, with any API token) and as a site (real mTLS over loopback).

import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { contextFromConfig } from '../../src/hub/assemble.ts';
import type { ConfigInput } from '../../src/hub/config.ts';
import type { HubContext } from '../../src/hub/context.ts';
import { createApiToken, ensureFirstAdmin } from '../../src/hub/identity/api-tokens.ts';
import type { HubTls } from '../../src/hub/identity/ca.ts';
import { buildServer } from '../../src/hub/server.ts';
import type { RoleBinding } from '../../src/model/access.ts';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import type { Role } from '../../src/model/roles.ts';
import type { RegisterResponse } from '../../src/model/wire.ts';
import { HttpClient, type JsonResponse } from '../../src/net/http-client.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import { createTestDatabase } from './postgres.ts';

/** The engine of hubs whose test names no database: sqlite (default) or postgres. */
export const testEngine = process.env.OUTPOST_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';

export interface TestClock {
  now: () => Date;
  advance(ms: number): void;
  /** runs `fn` with the clock at the real time, then puts it back where it was */
  atRealTime<T>(fn: () => Promise<T>): Promise<T>;
}

export function testClock(start = new Date()): TestClock {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    advance: (ms) => (t += ms),
    async atRealTime(fn) {
      const saved = t;
      t = Date.now();
      try {
        return await fn();
      } finally {
        t = saved;
      }
    },
  };
}

export interface Site {
  siteId: string;
  name: string;
  keyPem: string;
  certPem?: string;
  ticket?: string;
  /** mTLS client with this site's certificate (when it has one) */
  http: HttpClient;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<JsonResponse>;
}

export interface HubServer {
  ctx: HubContext;
  app: FastifyInstance;
  url: string;
  clock: TestClock;
  adminToken: string;
  /** a client with no certificate, trusting the hub CA */
  anonymous: HttpClient;
  operator(method: string, url: string, payload?: unknown, token?: string): Promise<LightMyRequestResponse>;
  /** a new API token with this role (over every site, or with these bindings) */
  tokenFor(role: Role, bindings?: RoleBinding[]): Promise<string>;
  joinToken(spec?: Record<string, unknown>): Promise<{ joinToken: string; token: string; id: string }>;
  register(
    token: string,
    opts?: RegisterOptions,
  ): Promise<{ status: number; body: RegisterResponse & { error?: { code: string } }; keyPem: string }>;
  /** a site registered with a token of its own; `facts` as an agent reports them (kubernetesVersion, …) */
  enroll(name: string, labels?: Record<string, string>, facts?: Record<string, unknown>): Promise<Site>;
  siteClient(siteId: string, name: string, certPem: string, keyPem: string): Site;
  close(): Promise<void>;
}

type RegisterOptions = {
  name?: string;
  machineId?: string;
  labels?: Record<string, string>;
  keyPem?: string;
  facts?: Record<string, unknown>;
};

async function registerWith(
  anonymous: HttpClient,
  token: string,
  opts: RegisterOptions,
): Promise<{ status: number; body: RegisterResponse & { error?: { code: string } }; keyPem: string }> {
  const keyPem = opts.keyPem ?? generateKeyPair().privateKeyPem;
  const res = await anonymous.request('POST', '/agent/v1/register', {
    body: {
      token,
      machineId: opts.machineId ?? `machine-${opts.name ?? 'site'}-${Date.now()}`,
      name: opts.name,
      labels: opts.labels,
      ...(opts.facts ? { facts: opts.facts } : {}),
      csr: createCsr({ commonName: 'site', keyPem }),
    },
  });
  return { status: res.status, body: res.body as RegisterResponse & { error?: { code: string } }, keyPem };
}

/** A site's mTLS client for a hub at `url` (the caller closes `http`). */
export function siteAt(
  url: string,
  caPem: string,
  siteId: string,
  name: string,
  certPem: string,
  keyPem: string,
): Site {
  const http = new HttpClient(url, { ca: caPem, cert: certPem, key: keyPem });
  return {
    siteId,
    name,
    keyPem,
    certPem,
    http,
    call: (method, path, body, headers) =>
      http.request(method, path.replace(':site', siteId), { body, headers: headers ?? {} }),
  };
}

/**
 * Enrolls a site at any running hub (e.g. startTestHub's) with an auto-approving join token's secret, and
 * returns its mTLS client (the caller closes `http`): a site the test drives by hand next to real agents.
 */
export async function enrollAt(
  url: string,
  caPem: string,
  token: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<Site> {
  const anonymous = new HttpClient(url, { ca: caPem });
  try {
    const r = await registerWith(anonymous, token, { name, labels });
    if (r.status !== 200 || !r.body.certificate) throw new Error(`enroll ${name}: ${JSON.stringify(r.body)}`);
    return siteAt(url, caPem, r.body.siteId, r.body.name, r.body.certificate, r.keyPem);
  } finally {
    anonymous.close();
  }
}

export async function startHubServer(
  config: Partial<ConfigInput> = {},
  logStream?: NodeJS.WritableStream,
  opts: {
    adminToken?: string;
    clock?: TestClock;
    tls?: HubTls;
    /** adds hooks to the server before it listens (a test that needs to act inside a request) */
    beforeListen?: (app: FastifyInstance) => void;
  } = {},
): Promise<HubServer> {
  const clock = opts.clock ?? testClock();
  // OUTPOST_TEST_ENGINE=postgres runs every hub that names no database on a fresh PostgreSQL database
  const scratch =
    config.database === undefined && testEngine === 'postgres' ? await createTestDatabase() : undefined;
  const ctx = await contextFromConfig(
    { database: scratch?.url ?? ':memory:', maxWaitSeconds: 2, ...config },
    { now: clock.now, ...(opts.tls ? { tls: opts.tls } : {}) },
  );
  const app = await buildServer(ctx, {
    https: { key: ctx.tls.serverKeyPem, cert: ctx.tls.serverCertPem, ca: ctx.tls.ca.certPem },
    ...(logStream ? { logger: { level: 'info', stream: logStream } } : {}),
  });
  opts.beforeListen?.(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  ctx.publicUrl.current = url;
  // a hub reopened on an existing database keeps its first admin: the caller passes that token again
  const adminToken = (await ensureFirstAdmin(ctx, opts.adminToken)) ?? opts.adminToken!;
  const anonymous = new HttpClient(url, { ca: ctx.tls.ca.certPem });
  const clients: HttpClient[] = [anonymous];
  let machines = 0;

  const server: HubServer = {
    ctx,
    app,
    url,
    clock,
    adminToken,
    anonymous,
    operator(method, path, payload, token = adminToken) {
      const headers = token ? { authorization: `Bearer ${token}` } : {};
      return app.inject({
        method: method as 'GET',
        url: path,
        headers,
        ...(payload !== undefined ? { payload: payload as object } : {}),
      });
    },
    async tokenFor(role, bindings) {
      const actor = { name: 'test', source: 'test' };
      return (await createApiToken(ctx, actor, `${role}-${++machines}`, role, undefined, bindings)).token;
    },
    async joinToken(spec = { autoApprove: true, maxUses: 100 }) {
      const r = await server.operator('POST', '/api/v1/bootstrap-tokens', spec);
      if (r.statusCode !== 201) throw new Error(`bootstrap token: ${r.body}`);
      const joinToken = r.json().joinToken as string;
      return { joinToken, token: decodeJoinToken(joinToken)!.token, id: r.json().token.id };
    },
    register(token, opts = {}) {
      return registerWith(anonymous, token, {
        ...opts,
        machineId: opts.machineId ?? `machine-${++machines}-${Date.now()}`,
      });
    },
    async enroll(name, labels = {}, facts) {
      const { token } = await server.joinToken({ autoApprove: true, maxUses: 1 });
      const r = await server.register(token, { name, labels, ...(facts ? { facts } : {}) });
      if (r.status !== 200 || !r.body.certificate)
        throw new Error(`enroll ${name}: ${JSON.stringify(r.body)}`);
      return server.siteClient(r.body.siteId, r.body.name, r.body.certificate, r.keyPem);
    },
    siteClient(siteId, name, certPem, keyPem) {
      const site = siteAt(url, ctx.tls.ca.certPem, siteId, name, certPem, keyPem);
      clients.push(site.http);
      return site;
    },
    async close() {
      for (const c of clients) c.close();
      await app.close();
      await ctx.close();
      await scratch?.drop();
    },
  };
  return server;
}
