// The hub's side of the web dashboard: the built files under /ui/ with their cache rules and page
// fallback, an honest answer when no build exists, and the reads the dashboard adds to the API
// (whoami, site locations, a site's rendered manifests).

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { dashboardRoutes } from '../../src/hub/routes/dashboard.ts';
import { bundleFile } from '../support/fleet.ts';
import { type HubServer, startHubServer } from '../support/hub-server.ts';

describe('serving the dashboard', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outpost-web-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Outpost</title><div id="app"></div>');
    await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('hashed assets are cached for a year; the page itself is revalidated', async () => {
    const app = Fastify();
    assert.equal(await dashboardRoutes(app, dir), true);
    const asset = await app.inject({ method: 'GET', url: '/ui/assets/index-abc123.js' });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.body, 'console.log(1)');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    const page = await app.inject({ method: 'GET', url: '/ui/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<div id="app">/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(
      String(page.headers['content-security-policy']),
      /script-src 'self';.*frame-ancestors 'none'/,
    );
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    const direct = await app.inject({ method: 'GET', url: '/ui/index.html' });
    assert.equal(direct.headers['content-security-policy'], page.headers['content-security-policy']);
    await app.close();
  });

  test("the dashboard's own paths get the page; a missing file is a 404; / leads to /ui/", async () => {
    const app = Fastify();
    await dashboardRoutes(app, dir);
    for (const url of ['/ui/sites/store-0001', '/ui/rollouts/r1?x=1', '/ui/map']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 200, url);
      assert.match(r.body, /<div id="app">/, url);
      assert.equal(r.headers['cache-control'], 'no-cache');
    }
    const missing = await app.inject({ method: 'GET', url: '/ui/assets/gone-999.js' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'not_found');
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, '/ui/');
    await app.close();
  });

  test('without a build the hub still answers, and says how to build', async () => {
    const app = Fastify();
    assert.equal(await dashboardRoutes(app, join(dir, 'nothing-here')), false);
    const r = await app.inject({ method: 'GET', url: '/ui/' });
    assert.equal(r.statusCode, 503);
    assert.match(r.body, /scripts\/build-web\.sh/);
    await app.close();
  });
});

describe('dashboard reads', () => {
  let hub: HubServer;
  before(async () => {
    hub = await startHubServer();
  });
  after(async () => hub.close());

  test('whoami names the calling token and its role', async () => {
    const token = await hub.tokenFor('viewer');
    const r = await hub.operator('GET', '/api/v1/whoami', undefined, token);
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().role, 'viewer');
    assert.match(r.json().name, /^viewer-/);
    assert.equal((await hub.operator('GET', '/api/v1/whoami')).json().role, 'admin');
    assert.equal((await hub.operator('GET', '/api/v1/whoami', undefined, '')).statusCode, 401);
  });

  test('site locations: properties win over facts, sites without coordinates are counted apart', async () => {
    // enrolled by the helper (a real CSR), then given the facts an agent reports at registration
    await hub.enroll('loc-a');
    await hub.enroll('loc-b');
    await hub.enroll('loc-none');
    const db = hub.ctx.store.db;
    await db
      .updateTable('sites')
      .set({ facts: JSON.stringify({ lat: 10.5, lon: -20.25 }) })
      .where('name', '=', 'loc-a')
      .execute();
    await db
      .updateTable('sites')
      .set({ facts: JSON.stringify({ lat: 1, lon: 1 }) })
      .where('name', '=', 'loc-b')
      .execute();
    assert.equal(
      (await hub.operator('PATCH', '/api/v1/sites/loc-b', { properties: { lat: '51.5', lon: -0.1 } }))
        .statusCode,
      200,
    );
    const r = await hub.operator('GET', '/api/v1/site-locations');
    assert.equal(r.statusCode, 200);
    const loc = r.json();
    const at = (name: string) => {
      const i = loc.names.indexOf(name);
      return i < 0
        ? undefined
        : {
            lat: loc.lat[i],
            lon: loc.lon[i],
            connectivity: loc.dictionary.connectivity[loc.connectivity[i]],
            lifecycle: loc.dictionary.lifecycle[loc.lifecycle[i]],
          };
    };
    assert.deepEqual(at('loc-a'), { lat: 10.5, lon: -20.25, connectivity: 'Online', lifecycle: 'Active' });
    assert.deepEqual(at('loc-b'), { lat: 51.5, lon: -0.1, connectivity: 'Online', lifecycle: 'Active' });
    assert.equal(at('loc-none'), undefined);
    assert.ok(loc.unplaced >= 1);
    assert.equal(loc.names.length, loc.lat.length);
    assert.equal(loc.names.length, loc.state.length);
  });

  test("a site's rendered manifests, and 404 where the bundle is not placed", async () => {
    await hub.enroll('render-me', { shop: 'yes' });
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg', namespace: 'default' },
      data: { a: '1' },
    };
    const applied = await hub.operator(
      'POST',
      '/api/v1/bundles/apply',
      bundleFile('shop', { matchLabels: { shop: 'yes' } }, [cm]),
    );
    assert.equal(applied.statusCode, 200);
    const r = await hub.operator('GET', '/api/v1/bundles/shop/rendered?site=render-me');
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.revision, 1);
    assert.match(body.digest, /^sha256:/);
    assert.deepEqual(
      body.objects.map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`),
      ['ConfigMap/cfg'],
    );
    await hub.enroll('not-a-shop');
    const none = await hub.operator('GET', '/api/v1/bundles/shop/rendered?site=not-a-shop');
    assert.equal(none.statusCode, 404);
    assert.equal(none.json().error.code, 'not_found');
    assert.equal((await hub.operator('GET', '/api/v1/bundles/shop/rendered?site=nowhere')).statusCode, 404);
    assert.equal((await hub.operator('GET', '/api/v1/bundles/shop/rendered')).statusCode, 400);
  });
});
