// Fuzz targets for the hub's HTTP boundaries, through fastify inject on a real hub (in-memory SQLite,
// its own CA) and, for the agent routes, also over real HTTPS with the site's certificate: the query
// route and its cursors, agent reports and telemetry (JSON and gzip), the event stream's Last-Event-ID,
// git webhooks and registration. Every answer below 500, every 4xx in the error shape with a known code.

import assert from 'node:assert/strict';
import { createHmac, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { contextFromConfig } from '../../src/hub/assemble.ts';
import type { HubContext } from '../../src/hub/context.ts';
import { createApiToken, ensureFirstAdmin } from '../../src/hub/identity/api-tokens.ts';
import { buildServer } from '../../src/hub/server.ts';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import { HttpClient } from '../../src/net/http-client.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import { seedSites } from '../support/hub.ts';
import {
  jsonish,
  labelKey,
  labels,
  mutated,
  mutatedBytes,
  orJunk,
  partialRecord,
  selectorAsWritten,
  whereExpression,
} from './arbitraries.ts';
import { assertAnswer, type FuzzSuite, type FuzzTarget } from './harness.ts';

const inflateLimit = 1024 * 1024;
const adminToken = 'oat_00000000-0000-7000-8000-00000000f022.fuzz-admin-secret';

interface FuzzHub {
  ctx: HubContext;
  app: FastifyInstance;
  viewer: string;
  site: { id: string; certPem: string };
  /** a keep-alive HTTPS client of the listening hub presenting the site's certificate and key */
  siteOverTls: HttpClient;
  /** a digest placed on the site, and the bundle it belongs to */
  placed: { bundle: string; digest: string };
  joinSecret: string;
  csrPem: string;
  cursors: { list: string; grouped: string };
  source: { name: string; secret: string };
}

type Answer = { statusCode: number; body: string };

function inject(hub: FuzzHub, opts: InjectOptions): Promise<Answer> {
  return hub.app.inject(opts) as unknown as Promise<Answer>;
}

/**
 * The TLS facts of an mTLS connection with the site's real certificate (once it has one), on inject's
 * socket: siteAuth then runs in full (serial lookup, revocation, the site in the path) without a TLS
 * handshake per input. Real TLS sockets are left as they are: the agent-mtls target sends its inputs
 * through the handshake, and test/hub/identity.test.ts tests the handshake's refusals.
 */
function presentCertificate(app: FastifyInstance): { peer?: X509Certificate } {
  const identity: { peer?: X509Certificate } = {};
  app.addHook('onRequest', async (request) => {
    if (!identity.peer || !request.url.startsWith('/agent/')) return;
    if ((request.raw.socket as Partial<TLSSocket>).encrypted) return;
    Object.assign(request.raw.socket as Partial<TLSSocket>, {
      encrypted: true,
      authorized: true,
      getPeerX509Certificate: () => identity.peer,
    });
  });
  return identity;
}

async function startFuzzHub(): Promise<FuzzHub> {
  const ctx = await contextFromConfig({
    database: ':memory:',
    maxWaitSeconds: 1,
    connectivity: { sweepIntervalMs: 0 },
    // a small inflate limit, so a gzip bomb past it is small to make; what matters is what happens past it
    telemetry: { maxInflatedBytes: inflateLimit },
  });
  const app = await buildServer(ctx, {
    https: { key: ctx.tls.serverKeyPem, cert: ctx.tls.serverCertPem, ca: ctx.tls.ca.certPem },
    ...(process.env.FUZZ_LOG ? { logger: { level: 'error', stream: process.stderr } } : {}),
  });
  const identity = presentCertificate(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  await ensureFirstAdmin(ctx, adminToken);
  const admin = { authorization: `Bearer ${adminToken}` };
  const viewer = (await createApiToken(ctx, { name: 'fuzz', source: 'fuzz' }, 'fuzz-viewer', 'viewer')).token;

  const joined = await app.inject({
    method: 'POST',
    url: '/api/v1/bootstrap-tokens',
    headers: admin,
    payload: { autoApprove: true, maxUses: 1000 },
  });
  const joinSecret = decodeJoinToken(joined.json().joinToken as string)!.token;
  const siteKeyPem = generateKeyPair().privateKeyPem;
  const csrPem = createCsr({ commonName: 'site', keyPem: siteKeyPem });
  const registered = await app.inject({
    method: 'POST',
    url: '/agent/v1/register',
    payload: {
      token: joinSecret,
      machineId: 'machine-fuzz-site',
      name: 'fuzz-site',
      labels: { region: 'west' },
      csr: csrPem,
    },
  });
  assert.equal(registered.statusCode, 200, registered.body);
  const site = { id: registered.json().siteId as string, certPem: registered.json().certificate as string };
  identity.peer = new X509Certificate(site.certPem);
  const address = app.server.address();
  const siteOverTls = new HttpClient(
    `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    { ca: ctx.tls.ca.certPem, cert: site.certPem, key: siteKeyPem },
  );

  const bundle = {
    files: [
      {
        path: 'pos.yaml',
        content:
          'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: pos}\nspec: {placement: {selector: {}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: till, namespace: pos}\ndata: {a: "1"}\n',
      },
    ],
  };
  const applied = await app.inject({
    method: 'POST',
    url: '/api/v1/bundles/apply',
    headers: admin,
    payload: bundle,
  });
  assert.equal(applied.statusCode, 200, applied.body);
  const desired = await app.inject({ method: 'GET', url: `/agent/v1/sites/${site.id}/desired` });
  const placed = desired.json().deployments[0] as { bundle: string; digest: string };

  // a fleet with every kind of property value, so where, sort and aggregates reach each SQL path
  const regions = ['west', 'east', 'north', 'south'];
  await seedSites(
    ctx,
    Array.from({ length: 40 }, (_, i) => ({
      name: `seed-${i}`,
      labels: { region: regions[i % 4]!, format: i % 3 ? 'mini' : 'max' },
    })),
  );
  const propertyValues = [4, 2.5, 'six', true, null, [1, 2], { nested: 1 }, -0, 1e300, ''];
  for (let i = 0; i < 40; i++) {
    await ctx.store.db
      .updateTable('sites')
      .set({
        properties: JSON.stringify({ lanes: propertyValues[i % propertyValues.length], storeId: `s-${i}` }),
      })
      .where('name', '=', `seed-${i}`)
      .execute();
  }
  const page = async (body: object) => {
    const r = await app.inject({
      method: 'POST',
      url: '/api/v1/query',
      headers: { authorization: `Bearer ${viewer}` },
      payload: body,
    });
    assert.equal(r.statusCode, 200, r.body);
    return r.json().nextCursor as string;
  };
  const cursors = {
    list: await page({ limit: 2 }),
    grouped: await page({ groupBy: ['label:region'], limit: 1 }),
  };

  // a git source whose repository is not there: a valid webhook starts a sync that fails at once
  const added = await app.inject({
    method: 'POST',
    url: '/api/v1/sources',
    headers: admin,
    payload: { name: 'fleet', url: 'file:///nonexistent/outpost-fuzz-repo', intervalSeconds: 3600 },
  });
  assert.equal(added.statusCode, 201, added.body);
  const source = { name: 'fleet', secret: added.json().webhookSecret as string };

  return { ctx, app, viewer, site, siteOverTls, placed, joinSecret, csrPem, cursors, source };
}

// ---- query ---------------------------------------------------------------------------------------

const fieldName = fc.oneof(
  fc.constantFrom(
    'label:region',
    'label:format',
    'property:lanes',
    'property:storeId',
    'connectivity',
    'state',
    'revision',
    'bundle',
    'lifecycle',
    'name',
  ),
  labelKey.map((k) => `label:${k}`),
  fc.string({ maxLength: 8 }),
);
const aggregate = fc.oneof(
  fc.constantFrom(
    'count',
    'avg(property:lanes)',
    'sum(property:lanes)',
    'min(property:storeId)',
    'max(property:lanes)',
  ),
  fc.constantFrom('avg(label:region)', 'avg()', 'median(property:x)', 'sum(property:a))'),
);
const sortSpec = fc.oneof(
  fc.constantFrom(
    'name',
    '-name',
    'lastSeen',
    '-lastReport',
    'label:region',
    '-property:lanes',
    'key',
    '-count',
    'count',
    'avg(property:lanes)',
  ),
  fc.string({ maxLength: 6 }),
);
const queryBody = (hub: FuzzHub) =>
  orJunk(
    partialRecord({
      selector: selectorAsWritten,
      where: whereExpression,
      groupBy: orJunk(fc.array(fieldName, { maxLength: 3 }), 1),
      aggregates: orJunk(fc.array(aggregate, { maxLength: 3 }), 1),
      sort: sortSpec,
      limit: orJunk(fc.integer({ min: 0, max: 2000 }), 1),
      cursor: fc.oneof(
        mutated(fc.constantFrom(hub.cursors.list, hub.cursors.grouped), 3),
        fc.string({ maxLength: 12 }),
      ),
      bundle: fc.constantFrom('pos', 'nope', ''),
      revision: orJunk(fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 2 }), 1),
      connectivity: orJunk(
        fc.array(fc.constantFrom('Online', 'Stale', 'Offline', 'Expired', 'Lost'), { maxLength: 2 }),
        1,
      ),
      lifecycle: orJunk(
        fc.array(fc.constantFrom('Active', 'Pending', 'Decommissioned'), { maxLength: 2 }),
        1,
      ),
      state: orJunk(fc.array(fc.constantFrom('Ready', 'Failed', 'Drifted', 'Nope'), { maxLength: 2 }), 1),
    }),
    1,
  );

function queryTarget(hub: FuzzHub): FuzzTarget<unknown> {
  return {
    name: 'query-route',
    testRuns: 300,
    covers:
      'POST /api/v1/query bodies (selectors, where, groupBy, aggregates, sort, limit, cursor, filters; junk) with a viewer token, on a seeded fleet with every property type',
    arbitrary: queryBody(hub),
    check: async (body) => {
      const r = await inject(hub, {
        method: 'POST',
        url: '/api/v1/query',
        headers: { authorization: `Bearer ${hub.viewer}` },
        payload: JSON.stringify(body) ?? 'null',
      });
      assertAnswer(r, 'query');
    },
  };
}

function cursorTarget(hub: FuzzHub): FuzzTarget<{ cursor: string; grouped: boolean; sort?: string }> {
  return {
    name: 'query-cursor',
    testRuns: 300,
    found: ['a tampered cursor of a grouped query was a SyntaxError or TypeError: POST /query answered 500'],
    covers: 'real nextCursors of list and grouped queries, mutated, sent back to POST /api/v1/query',
    arbitrary: fc.record(
      {
        cursor: fc.oneof(
          mutated(fc.constantFrom(hub.cursors.list, hub.cursors.grouped), 4),
          fc.base64String({ maxLength: 40 }).map((s) => s.replace(/=+$/, '')),
        ),
        grouped: fc.boolean(),
        sort: fc.constantFrom('name', '-name', 'key', 'count', 'lastSeen'),
      },
      { requiredKeys: ['cursor', 'grouped'] },
    ),
    check: async ({ cursor, grouped, sort }) => {
      const body = {
        cursor,
        limit: 2,
        ...(grouped ? { groupBy: ['label:region'] } : {}),
        ...(sort ? { sort } : {}),
      };
      const r = await inject(hub, {
        method: 'POST',
        url: '/api/v1/query',
        headers: { authorization: `Bearer ${hub.viewer}` },
        payload: body,
      });
      assertAnswer(r, 'query with a cursor');
    },
  };
}

// ---- agent API -----------------------------------------------------------------------------------

const digest = (hub: FuzzHub) =>
  fc.oneof(
    fc.constant(hub.placed.digest),
    fc.stringMatching(/^sha256:[0-9a-f]{64}$/),
    fc.constantFrom('sha256:', 'md5:00', ''),
  );
const deploymentState = fc.oneof(
  fc.constantFrom('Applying', 'Ready', 'NotReady', 'Failed', 'Drifted'),
  fc.constantFrom('Pending', 'ready', ''),
);
const count = orJunk(fc.integer({ min: -1, max: 5 }), 1);
const deploymentReport = (hub: FuzzHub) =>
  orJunk(
    partialRecord({
      bundle: fc.oneof(fc.constant(hub.placed.bundle), fc.constantFrom('other', 'Bad Name', '')),
      digest: digest(hub),
      state: deploymentState,
      message: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('x'.repeat(8193))),
      counts: orJunk(partialRecord({ total: count, applied: count, ready: count }), 1),
      notReady: orJunk(
        fc.array(
          partialRecord({ object: fc.string({ maxLength: 8 }), reason: fc.string({ maxLength: 8 }) }),
          { maxLength: 2 },
        ),
        1,
      ),
      drift: orJunk(
        fc.array(
          partialRecord({
            object: fc.string({ maxLength: 8 }),
            path: fc.string({ maxLength: 8 }),
            want: fc.string(),
            got: fc.string(),
          }),
          { maxLength: 2 },
        ),
        1,
      ),
    }),
    1,
  );
const reportBody = (hub: FuzzHub) =>
  orJunk(
    partialRecord({
      seq: orJunk(
        fc.oneof(fc.integer({ min: -1, max: 1_000_000 }), fc.constantFrom(2 ** 53, 2 ** 63, 1.5)),
        1,
      ),
      deployments: orJunk(fc.array(deploymentReport(hub), { maxLength: 3 }), 1),
      removed: orJunk(fc.array(fc.constantFrom('pos', 'other', ''), { maxLength: 2 }), 1),
      droppedReports: orJunk(fc.oneof(fc.integer({ min: -1, max: 100 }), fc.constant(2 ** 60)), 1),
    }),
    1,
  );

function reportTarget(hub: FuzzHub): FuzzTarget<{ body: unknown; otherSite: boolean }> {
  return {
    name: 'report-route',
    testRuns: 300,
    found: ['a report seq of 2^53 was stored, and every later call of that site answered 500'],
    covers:
      "POST /agent/v1/sites/:id/report bodies (sequence numbers, deployments with real and made-up bundles and digests, states, counts, drift; junk) with the site's real certificate",
    arbitrary: fc.record({ body: reportBody(hub), otherSite: fc.boolean() }),
    check: async ({ body, otherSite }) => {
      const id = otherSite ? 'not-this-site' : hub.site.id;
      const r = await inject(hub, {
        method: 'POST',
        url: `/agent/v1/sites/${id}/report`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body) ?? 'null',
      });
      assertAnswer(r, 'report');
    },
  };
}

const millis = orJunk(
  fc.oneof(
    fc.integer({ min: 0, max: 2 ** 31 }).map((n) => Date.now() - n),
    fc.constantFrom(0, 2 ** 53 - 1, 8.64e15, 8.64e15 + 1, 1e20, -1),
  ),
  1,
);
const sample = orJunk(
  partialRecord({
    class: fc.constantFrom('sli', 'metric', 'debug', 'log'),
    name: fc.constantFrom('requests_total', 'errors_total', 'slow_requests_total', 'cpu', 'bad name', ''),
    bundle: fc.constantFrom('pos', 'other', ''),
    labels: orJunk(
      fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
      1,
    ),
    t: millis,
    d: orJunk(fc.oneof(fc.integer({ min: 0, max: 3_600_000 }), fc.constantFrom(0, 2 ** 53 - 1)), 1),
    v: orJunk(fc.oneof(fc.double(), fc.integer()), 1),
  }),
  1,
);
const telemetryEvent = orJunk(
  partialRecord({
    t: millis,
    bundle: fc.constantFrom('pos', ''),
    type: fc.constantFrom('Normal', 'Warning', 'Error'),
    object: fc.string({ maxLength: 10 }),
    reason: fc.string({ maxLength: 10 }),
    message: fc.string({ maxLength: 10 }),
    count: orJunk(fc.integer({ min: 0, max: 10 }), 1),
  }),
  1,
);
const drops = orJunk(partialRecord({ sli: count, event: count, metric: count, debug: count }), 1);
const telemetryBody = orJunk(
  partialRecord({
    batchId: fc.oneof(fc.uuid(), fc.constantFrom('b-1', 'b-2', '', 'bad id!'), fc.string({ maxLength: 8 })),
    samples: orJunk(fc.array(sample, { maxLength: 4 }), 1),
    events: orJunk(fc.array(telemetryEvent, { maxLength: 2 }), 1),
    dropped: drops,
  }),
  1,
);

function telemetryTarget(hub: FuzzHub): FuzzTarget<unknown> {
  return {
    name: 'telemetry-route',
    testRuns: 300,
    found: ['a sample time past the year 275760 or a count past 2^53 was stored and broke later reads'],
    covers:
      'POST /agent/v1/sites/:id/telemetry JSON batches (samples of every class, times from 0 to past year 275760, events, drop counts; junk)',
    arbitrary: telemetryBody,
    check: async (body) => {
      const r = await inject(hub, {
        method: 'POST',
        url: `/agent/v1/sites/${hub.site.id}/telemetry`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body) ?? 'null',
      });
      assertAnswer(r, 'telemetry');
    },
  };
}

// small bodies that inflate past the fuzz hub's limit, made once
const bombs = [
  gzipSync(Buffer.alloc(2 * inflateLimit)),
  gzipSync(Buffer.from(`{"batchId":"b","samples":[${'0,'.repeat(inflateLimit)}0]}`)),
];

function gzipTarget(hub: FuzzHub): FuzzTarget<{ body: Uint8Array; encoding: string | undefined }> {
  const gzipped = telemetryBody.map((b) => new Uint8Array(gzipSync(JSON.stringify(b) ?? 'null')));
  return {
    name: 'telemetry-gzip',
    testRuns: 300,
    covers:
      'gzip telemetry bodies: valid, bit-flipped, truncated, with trailing bytes, bombs past the inflate limit, and odd content-encodings',
    arbitrary: fc.record({
      body: fc.oneof(
        { weight: 3, arbitrary: gzipped },
        { weight: 3, arbitrary: mutatedBytes(gzipped, 3) },
        { weight: 1, arbitrary: fc.constantFrom(...bombs.map((b) => new Uint8Array(b))) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
      ),
      encoding: fc.oneof(
        { weight: 8, arbitrary: fc.constant('gzip') },
        {
          weight: 1,
          arbitrary: fc.constantFrom('GZIP', 'gzip, gzip', 'deflate', 'br', 'identity', '', 'x-gzip'),
        },
        { weight: 1, arbitrary: fc.constant(undefined) },
      ),
    }),
    check: async ({ body, encoding }) => {
      const r = await inject(hub, {
        method: 'POST',
        url: `/agent/v1/sites/${hub.site.id}/telemetry`,
        headers: {
          'content-type': 'application/json',
          ...(encoding !== undefined ? { 'content-encoding': encoding } : {}),
        },
        payload: Buffer.from(body),
      });
      assertAnswer(r, 'gzip telemetry');
    },
  };
}

function agentOverTlsTarget(
  hub: FuzzHub,
): FuzzTarget<{ route: 'report' | 'telemetry'; body: Uint8Array; gzip: boolean }> {
  const json = (arbitrary: fc.Arbitrary<unknown>) =>
    arbitrary.map((b) => new Uint8Array(Buffer.from(JSON.stringify(b) ?? 'null')));
  return {
    name: 'agent-mtls',
    testRuns: 100,
    covers:
      "the report and telemetry bodies above (telemetry gzipped or not, bit-flipped now and then) over real HTTPS to the listening hub, with the site's certificate and key: the TLS handshake, the socket's peer certificate and the body read from a real stream",
    arbitrary: fc.oneof(
      fc.record({
        route: fc.constant('report' as const),
        body: json(reportBody(hub)),
        gzip: fc.constant(false),
      }),
      fc.record({
        route: fc.constant('telemetry' as const),
        body: mutatedBytes(json(telemetryBody), 1),
        gzip: fc.constant(false),
      }),
      fc.record({
        route: fc.constant('telemetry' as const),
        body: mutatedBytes(
          telemetryBody.map((b) => new Uint8Array(gzipSync(JSON.stringify(b) ?? 'null'))),
          1,
        ),
        gzip: fc.constant(true),
      }),
    ),
    check: async ({ route, body, gzip }) => {
      const r = await hub.siteOverTls.request('POST', `/agent/v1/sites/${hub.site.id}/${route}`, {
        body: Buffer.from(body),
        ...(gzip ? { headers: { 'content-encoding': 'gzip' } } : {}),
        raw: true,
      });
      assertAnswer({ statusCode: r.status, body: String(r.body) }, `${route} over mTLS`);
      // the handshake's certificate is what identifies the site: it is never refused as unknown
      assert.notEqual(r.status, 401, `${route} over mTLS: the site's certificate was not accepted`);
    },
  };
}

// ---- event stream --------------------------------------------------------------------------------

const lastEventId = fc.oneof(
  fc.integer({ min: 0, max: 20 }).map(String),
  fc.constantFrom(
    '99999999999999999999',
    '9007199254740993',
    '-1',
    ' 3 ',
    '1e3',
    '0x10',
    '٣',
    '3\t',
    '',
    ' ',
    '00000000000000000000000000000001',
  ),
  fc.string({ maxLength: 6 }),
);

function eventStreamTarget(hub: FuzzHub): FuzzTarget<{ id: string | undefined; after: string | undefined }> {
  return {
    name: 'event-stream',
    testRuns: 300,
    covers:
      'GET /api/v1/events/stream with odd Last-Event-ID headers and ?after= values; the stream is read to its first lines, then dropped',
    arbitrary: fc.record({
      id: fc.option(lastEventId, { nil: undefined }),
      after: fc.option(
        fc.oneof(
          fc.integer({ min: -1, max: 30 }).map(String),
          fc.constantFrom('1e3', 'x', '99999999999999999999', ''),
        ),
        { nil: undefined },
      ),
    }),
    check: async ({ id, after }) => {
      const stop = new AbortController();
      const r = await hub.app.inject({
        method: 'GET',
        url: `/api/v1/events/stream${after !== undefined ? `?after=${encodeURIComponent(after)}` : ''}`,
        headers: {
          authorization: `Bearer ${hub.viewer}`,
          ...(id !== undefined ? { 'last-event-id': id } : {}),
        },
        payloadAsStream: true,
        signal: stop.signal,
      });
      if (r.statusCode !== 200) {
        let body = '';
        for await (const chunk of r.stream()) body += String(chunk);
        assertAnswer({ statusCode: r.statusCode, body }, 'event stream');
        return;
      }
      let text = '';
      try {
        for await (const chunk of r.stream()) {
          text += String(chunk);
          if (text.includes('retry:')) break;
        }
      } finally {
        stop.abort();
      }
      assert.match(text, /^retry: \d+/, 'a stream starts with its retry line');
      // when resuming from a plain number, only later events may follow
      const from = id !== undefined && /^\d+$/.test(id.trim()) ? Number(id.trim()) : undefined;
      for (const m of text.matchAll(/^id: (\d+)$/gm)) if (from !== undefined) assert.ok(Number(m[1]) > from);
    },
  };
}

// ---- webhooks and registration -------------------------------------------------------------------

function webhookTarget(
  hub: FuzzHub,
): FuzzTarget<{ source: string; body: Uint8Array; contentType: string; auth: number; junk: string }> {
  return {
    name: 'webhook',
    testRuns: 300,
    found: [
      "a source name over 100 characters or a malformed percent-escape got Fastify's own FST_ error codes, outside the error shape",
    ],
    covers:
      'POST /hooks/git/:source with any body and content type, signatures valid (HMAC of the body) and not, shared secrets right and wrong, unknown sources',
    arbitrary: fc.record({
      source: fc.oneof(
        fc.constant(hub.source.name),
        fc.constantFrom('nope', 'FLEET', '%00', '..', 'a'.repeat(300)),
      ),
      body: fc.oneof(
        fc.uint8Array({ maxLength: 128 }),
        jsonish.map((j) => new Uint8Array(Buffer.from(JSON.stringify(j) ?? ''))),
      ),
      contentType: fc.constantFrom(
        'application/json',
        'application/x-www-form-urlencoded',
        'text/plain',
        '',
        'multipart/form-data; boundary=x',
        '*/*',
      ),
      // 0 none, 1 valid signature, 2 wrong signature, 3 valid secret, 4 wrong secret, 5 GitLab token
      auth: fc.oneof(
        { weight: 1, arbitrary: fc.constantFrom(1, 3) },
        { weight: 6, arbitrary: fc.constantFrom(0, 2, 4, 5) },
      ),
      junk: fc.string({ maxLength: 80 }),
    }),
    check: async ({ source, body, contentType, auth, junk }) => {
      const bytes = Buffer.from(body);
      const signature = `sha256=${createHmac('sha256', hub.source.secret).update(bytes).digest('hex')}`;
      const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
      if (auth === 1) headers['x-hub-signature-256'] = signature;
      if (auth === 2) headers['x-hub-signature-256'] = `sha256=${junk}`;
      if (auth === 3) headers['x-outpost-webhook-secret'] = hub.source.secret;
      if (auth === 4) headers['x-outpost-webhook-secret'] = junk;
      if (auth === 5) headers['x-gitlab-token'] = junk;
      const r = await inject(hub, {
        method: 'POST',
        url: `/hooks/git/${encodeURIComponent(source)}`,
        headers,
        payload: bytes,
      });
      assertAnswer(r, 'webhook');
      if (r.statusCode === 202) assert.ok(source === hub.source.name && (auth === 1 || auth === 3));
    },
  };
}

function registerTarget(hub: FuzzHub): FuzzTarget<unknown> {
  const csrDer = Buffer.from(hub.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const csr = fc.oneof(
    mutated(fc.constant(hub.csrPem), 3),
    mutatedBytes(fc.constant(new Uint8Array(csrDer)), 3).map(
      (b) =>
        `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(b).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`,
    ),
  );
  return {
    name: 'register-route',
    testRuns: 300,
    covers:
      'POST /agent/v1/register bodies: the real bootstrap token and CSR mutated, names, labels, machine ids and facts of every shape',
    arbitrary: orJunk(
      partialRecord({
        token: fc.oneof(mutated(fc.constant(hub.joinSecret), 2), fc.string({ maxLength: 20 })),
        machineId: fc.oneof(
          fc.constantFrom('machine-fuzz-site', 'machine-other-01'),
          fc.string({ maxLength: 20 }),
        ),
        name: fc.oneof(fc.constantFrom('fuzz-site', 'store-9', 'Bad_Name', ''), fc.string({ maxLength: 12 })),
        labels: orJunk(labels, 1),
        csr,
        facts: orJunk(
          partialRecord({
            hostname: fc.string({ maxLength: 8 }),
            lat: jsonish,
            lon: fc.double(),
            timezone: fc.constantFrom('Europe/Berlin', 'Mars/Base', ''),
            capacity: jsonish,
          }),
          1,
        ),
      }),
      1,
    ),
    check: async (body) => {
      const r = await inject(hub, {
        method: 'POST',
        url: '/agent/v1/register',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body) ?? 'null',
      });
      assertAnswer(r, 'register');
    },
  };
}

/** A hub made for fuzzing and the targets that share it. */
export async function hubTargets(): Promise<FuzzSuite> {
  const hub = await startFuzzHub();
  return {
    targets: [
      queryTarget(hub),
      cursorTarget(hub),
      reportTarget(hub),
      telemetryTarget(hub),
      gzipTarget(hub),
      agentOverTlsTarget(hub),
      eventStreamTarget(hub),
      webhookTarget(hub),
      registerTarget(hub),
    ] as FuzzTarget[],
    async close() {
      hub.siteOverTls.close();
      await hub.app.close();
      await hub.ctx.close();
    },
  };
}
