// The hub's HTTP contract, in process (fastify inject) over a real SQLite database: credentials on
// every endpoint, stable error codes, idempotent reports, long-polls and blob access.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { contextFromConfig, type HubContext } from '../../src/hub/context.ts';
import { buildServer } from '../../src/hub/server.ts';
import { bundleFile } from '../support/fleet.ts';

const operator = { authorization: 'Bearer op-secret' };
let ctx: HubContext;
let app: FastifyInstance;

before(async () => {
  ctx = await contextFromConfig({
    database: ':memory:',
    operatorToken: 'op-secret',
    registrationToken: 'reg-secret',
    maxWaitSeconds: 2,
  });
  app = await buildServer(ctx);
});

after(async () => {
  await app.close();
  await ctx.store.close();
});

async function register(name: string, labels: Record<string, string> = {}) {
  const r = await app.inject({
    method: 'POST',
    url: '/agent/v1/register',
    payload: { token: 'reg-secret', name, labels },
  });
  assert.equal(r.statusCode, 200, r.body);
  return { authorization: `Bearer ${r.json().credential}` };
}

async function apply(files: object) {
  return app.inject({ method: 'POST', url: '/api/v1/bundles/apply', headers: operator, payload: files });
}

const configMap = (name: string, data: Record<string, string> = { a: '1' }) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
});

describe('credentials', () => {
  const operatorRoutes: Array<[string, string, unknown?]> = [
    ['GET', '/api/v1/sites'],
    ['GET', '/api/v1/sites/x'],
    ['PATCH', '/api/v1/sites/x', { labels: {} }],
    ['POST', '/api/v1/bundles/apply', { files: [{ path: 'a.yaml', content: '' }] }],
    ['GET', '/api/v1/bundles'],
    ['GET', '/api/v1/bundles/x'],
    ['DELETE', '/api/v1/bundles/x'],
    ['GET', '/api/v1/status'],
  ];
  const agentRoutes: Array<[string, string, unknown?]> = [
    ['GET', '/agent/v1/desired'],
    ['GET', `/agent/v1/blobs/sha256:${'0'.repeat(64)}`],
    ['POST', '/agent/v1/report', { seq: 1, deployments: [] }],
  ];

  for (const [method, url, payload] of operatorRoutes) {
    test(`${method} ${url} refuses a missing or wrong operator token, and a site credential`, async () => {
      const site = await register(`cred-${method.toLowerCase()}-${url.length}`);
      for (const headers of [
        {},
        { authorization: 'Bearer nope' },
        { authorization: 'Basic b3A6c2VjcmV0' },
        site,
      ]) {
        const r = await app.inject({ method: method as 'GET', url, headers, payload: payload as object });
        assert.equal(r.statusCode, 401, `${method} ${url} with ${JSON.stringify(headers)}`);
        assert.equal(r.json().error.code, 'unauthorized');
      }
    });
  }

  for (const [method, url, payload] of agentRoutes) {
    test(`${method} ${url} refuses a missing or unknown site credential, and the operator token`, async () => {
      for (const headers of [{}, { authorization: 'Bearer site_unknown' }, operator]) {
        const r = await app.inject({ method: method as 'GET', url, headers, payload: payload as object });
        assert.equal(r.statusCode, 401, `${method} ${url} with ${JSON.stringify(headers)}`);
        assert.equal(r.json().error.code, 'unauthorized');
      }
    });
  }

  test('registration refuses a wrong token and a missing one', async () => {
    const wrong = await app.inject({
      method: 'POST',
      url: '/agent/v1/register',
      payload: { token: 'nope', name: 'store-x' },
    });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().error.code, 'unauthorized');
    const missing = await app.inject({
      method: 'POST',
      url: '/agent/v1/register',
      payload: { name: 'store-x' },
    });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error.code, 'request_invalid');
    const sites = await app.inject({ method: 'GET', url: '/api/v1/sites', headers: operator });
    assert.equal(
      sites.json().items.some((s: { name: string }) => s.name === 'store-x'),
      false,
    );
  });

  test('registering the same name again issues a new credential and retires the old one', async () => {
    const first = await register('store-again');
    const second = await register('store-again');
    assert.notDeepEqual(first, second);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: first })).statusCode,
      401,
    );
    assert.equal(
      (await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: second })).statusCode,
      200,
    );
  });
});

describe('bad input', () => {
  test('invalid YAML is refused with 400, a stable code, the file and the line', async () => {
    const content =
      'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: broken}\nspec:\n  placement:\n    selector: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n';
    const r = await apply({ files: [{ path: 'fleet/broken.yaml', content }] });
    assert.equal(r.statusCode, 400);
    const { error } = r.json();
    assert.equal(error.code, 'manifest_invalid');
    assert.equal(error.file, 'fleet/broken.yaml');
    assert.equal(error.line, 12);
    const bundles = await app.inject({ method: 'GET', url: '/api/v1/bundles', headers: operator });
    assert.equal(
      bundles.json().items.some((b: { name: string }) => b.name === 'broken'),
      false,
      'nothing was stored',
    );
  });

  test('a manifest without a name points at its document', async () => {
    const content =
      'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: nameless}\nspec: {placement: {selector: {}}}\n---\n# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n';
    const r = await apply({ files: [{ path: 'nameless.yaml', content }] });
    assert.equal(r.statusCode, 400);
    assert.deepEqual(r.json().error, {
      code: 'manifest_invalid',
      message: 'metadata.name is missing',
      file: 'nameless.yaml',
      line: 7,
    });
  });

  test('an invalid selector is refused with selector_invalid', async () => {
    const r = await apply(
      bundleFile('badsel', { matchExpressions: [{ key: 'region', operator: 'In', values: [] }] }, []),
    );
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'selector_invalid');
    assert.match(r.json().error.message, /matchExpressions\[0\]/);
  });

  test('a body that does not match the schema is request_invalid', async () => {
    const r = await apply({ notFiles: true });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'request_invalid');
  });

  test('an unknown site or bundle is 404 not_found, and so is an unknown route', async () => {
    for (const url of ['/api/v1/sites/nowhere', '/api/v1/bundles/nothing', '/api/v1/nothing']) {
      const r = await app.inject({ method: 'GET', url, headers: operator });
      assert.equal(r.statusCode, 404, url);
      assert.equal(r.json().error.code, 'not_found');
    }
  });

  test('invalid site labels are refused', async () => {
    await register('store-labels');
    const r = await app.inject({
      method: 'PATCH',
      url: '/api/v1/sites/store-labels',
      headers: operator,
      payload: { labels: { 'bad key!': 'x' } },
    });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'request_invalid');
  });
});

describe('desired state and reports', () => {
  test('a placed bundle appears in the desired state; its blob matches its digest', async () => {
    const site = await register('store-place', { tier: 'gold' });
    const r = await apply(bundleFile('gold-only', { matchLabels: { tier: 'gold' } }, [configMap('gold')]));
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { bundle: 'gold-only', revision: 1, changed: true, targeted: 1 });
    const desired = await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: site });
    assert.equal(desired.statusCode, 200);
    const entry = desired.json().deployments.find((d: { bundle: string }) => d.bundle === 'gold-only');
    assert.equal(entry.revision, 1);
    assert.equal(desired.headers.etag, `"${desired.json().digest}"`);
    const blob = await app.inject({ method: 'GET', url: `/agent/v1/blobs/${entry.digest}`, headers: site });
    assert.equal(blob.statusCode, 200);
    const { sha256Digest } = await import('../../src/render/digest.ts');
    assert.equal(sha256Digest(blob.body), entry.digest);
    assert.equal(blob.json().objects[0].metadata.name, 'gold');
  });

  test('spec.apply travels in the blob, and changing only it makes a new revision and a new digest', async () => {
    const site = await register('store-options', { tier: 'options' });
    const selector = { matchLabels: { tier: 'options' } };
    const entryOf = async () =>
      (await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: site }))
        .json()
        .deployments.find((d: { bundle: string }) => d.bundle === 'tuned');
    await apply(bundleFile('tuned', selector, [configMap('tuned')]));
    const first = await entryOf();
    const r = await apply(
      bundleFile('tuned', selector, [configMap('tuned')], { apply: { readiness: 'Optimistic' } }),
    );
    assert.deepEqual(r.json(), { bundle: 'tuned', revision: 2, changed: true, targeted: 1 });
    const second = await entryOf();
    assert.notEqual(second.digest, first.digest);
    const blob = await app.inject({ method: 'GET', url: `/agent/v1/blobs/${second.digest}`, headers: site });
    assert.equal(blob.json().options.readiness, 'Optimistic');
    assert.equal(blob.json().options.correctDrift, true, 'defaults filled in');
  });

  test('a site cannot read a blob that is not placed on it', async () => {
    const gold = await register('store-gold', { tier: 'secret' });
    const other = await register('store-other', { tier: 'bronze' });
    await apply(bundleFile('secret-bundle', { matchLabels: { tier: 'secret' } }, [configMap('s')]));
    const digest = (await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: gold }))
      .json()
      .deployments.find((d: { bundle: string }) => d.bundle === 'secret-bundle').digest;
    const r = await app.inject({ method: 'GET', url: `/agent/v1/blobs/${digest}`, headers: other });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json().error.code, 'not_found');
  });

  test('a long-poll with the current ETag answers 304 when nothing changes', async () => {
    const site = await register('store-poll');
    const first = await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: site });
    const started = Date.now();
    const second = await app.inject({
      method: 'GET',
      url: '/agent/v1/desired?wait=1',
      headers: { ...site, 'if-none-match': first.headers.etag as string },
    });
    assert.equal(second.statusCode, 304);
    assert.ok(Date.now() - started >= 900, 'the hub held the poll');
  });

  test('a long-poll wakes as soon as the site desired state changes', async () => {
    const site = await register('store-wake', { wake: 'yes' });
    const first = await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: site });
    const started = Date.now();
    const poll = app.inject({
      method: 'GET',
      url: '/agent/v1/desired?wait=30',
      headers: { ...site, 'if-none-match': first.headers.etag as string },
    });
    await new Promise((r) => setTimeout(r, 100));
    await apply(bundleFile('wake', { matchLabels: { wake: 'yes' } }, [configMap('w')]));
    const res = await poll;
    assert.equal(res.statusCode, 200);
    assert.ok(Date.now() - started < 1900, `woke in ${Date.now() - started} ms, before the 2 s cap`);
    assert.ok(res.json().deployments.some((d: { bundle: string }) => d.bundle === 'wake'));
  });

  test('reports are sequenced: a replay or an older report changes nothing', async () => {
    const site = await register('store-seq', { seq: 'yes' });
    await apply(bundleFile('seq', { matchLabels: { seq: 'yes' } }, [configMap('q')]));
    const digest = (await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: site }))
      .json()
      .deployments.find((d: { bundle: string }) => d.bundle === 'seq').digest;
    const report = (seq: number, state: string) =>
      app.inject({
        method: 'POST',
        url: '/agent/v1/report',
        headers: site,
        payload: {
          seq,
          deployments: [
            {
              bundle: 'seq',
              digest,
              state,
              counts: { total: 1, applied: 1, ready: state === 'Ready' ? 1 : 0 },
            },
          ],
        },
      });
    assert.deepEqual((await report(5, 'Ready')).json(), { accepted: true, lastSeq: 5 });
    assert.deepEqual((await report(5, 'Failed')).json(), { accepted: false, lastSeq: 5 });
    assert.deepEqual((await report(3, 'Failed')).json(), { accepted: false, lastSeq: 5 });
    const detail = await app.inject({ method: 'GET', url: '/api/v1/sites/store-seq', headers: operator });
    const d = detail.json().deployments.find((x: { bundle: string }) => x.bundle === 'seq');
    assert.equal(d.state, 'Ready');
    assert.equal(d.appliedDigest, digest);
  });

  test('a deleted bundle leaves the desired state, and its row goes once the agent reports it removed', async () => {
    const site = await register('store-del', { del: 'yes' });
    await apply(bundleFile('doomed', { matchLabels: { del: 'yes' } }, [configMap('d')]));
    assert.equal(
      (await app.inject({ method: 'DELETE', url: '/api/v1/bundles/doomed', headers: operator })).statusCode,
      204,
    );
    const desired = (await app.inject({ method: 'GET', url: '/agent/v1/desired', headers: site })).json();
    assert.equal(
      desired.deployments.some((d: { bundle: string }) => d.bundle === 'doomed'),
      false,
    );
    let detail = (
      await app.inject({ method: 'GET', url: '/api/v1/sites/store-del', headers: operator })
    ).json();
    assert.equal(
      detail.deployments.find((d: { bundle: string }) => d.bundle === 'doomed').desiredDigest,
      null,
    );
    await app.inject({
      method: 'POST',
      url: '/agent/v1/report',
      headers: site,
      payload: { seq: 1, deployments: [], removed: ['doomed'] },
    });
    detail = (await app.inject({ method: 'GET', url: '/api/v1/sites/store-del', headers: operator })).json();
    assert.equal(
      detail.deployments.some((d: { bundle: string }) => d.bundle === 'doomed'),
      false,
    );
  });

  test('status counts sites and deployments by state', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v1/status', headers: operator });
    const s = r.json();
    const sites = (await app.inject({ method: 'GET', url: '/api/v1/sites', headers: operator })).json().items;
    assert.equal(s.sites.total, sites.length);
    assert.equal(s.sites.byConnectivity.Online, sites.length);
    const sum = Object.values(s.deployments.byState as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.equal(sum, s.deployments.total);
  });
});

test('the OpenAPI document describes both APIs', async () => {
  const r = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(r.statusCode, 200);
  const doc = r.json();
  assert.match(doc.openapi, /^3\./);
  for (const path of [
    '/api/v1/sites',
    '/api/v1/bundles/apply',
    '/api/v1/status',
    '/agent/v1/desired',
    '/agent/v1/report',
  ]) {
    assert.ok(doc.paths[path], `${path} is documented`);
  }
});
