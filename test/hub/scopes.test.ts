// Scoped tokens against a real hub on real SQLite: a regional token sees and acts on its region alone —
// lists, queries, counts, status, attention, map, events (also streamed) and SLOs — and is refused (403)
// everywhere else without a count leaking; a team's token changes its team's bundles and no others.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bundleOwner } from '../../src/hub/access/reach.ts';
import { followEvents } from '../../src/net/follow-events.ts';
import { bundleFile } from '../support/fleet.ts';
import { type MemoryHub, memoryHub, type SiteHandle } from '../support/hub.ts';

let hub: MemoryHub;
const sites: Record<string, SiteHandle> = {};
let westViewer: string;
let westOperator: string;
let posTeam: string;

async function as(token: string, method: string, url: string, payload?: unknown) {
  const r = await hub.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
  return { status: r.statusCode, body: r.body ? r.json() : undefined };
}

async function token(name: string, bindings: unknown[]): Promise<string> {
  const r = await hub.post<{ token: string }>('/api/v1/api-tokens', { name, role: 'viewer', bindings });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.token;
}

before(async () => {
  hub = await memoryHub();
  for (const [name, region] of [
    ['west-1', 'west'],
    ['west-2', 'west'],
    ['east-1', 'east'],
    ['east-2', 'east'],
    ['east-3', 'east'],
  ] as const) {
    sites[name] = await hub.register(name, { region, format: 'mini' }, { lat: 40, lon: -100 });
  }
  await hub.applyBundle('web', {});
  for (const [name, site] of Object.entries(sites)) {
    const [placed] = await hub.desired(site);
    await hub.report(site, {
      seq: 1,
      deployments: [
        {
          bundle: 'web',
          digest: placed!.digest,
          state: name === 'west-1' || name.startsWith('east') ? 'Failed' : 'Ready',
          message: name === 'west-1' || name.startsWith('east') ? 'ImagePullBackOff' : '',
          counts: { total: 1, applied: 1, ready: name === 'west-2' ? 1 : 0 },
        },
      ],
    });
  }
  const west = { matchLabels: { region: 'west' } };
  westViewer = await token('west-viewer', [{ role: 'viewer', sites: west }]);
  westOperator = await token('west-operator', [{ role: 'operator', sites: west }]);
  posTeam = await token('pos-team', [{ role: 'operator', team: 'pos' }]);
});

after(async () => {
  await hub?.close();
});

describe('a token scoped to region=west', () => {
  test('lists, finds and maps only west sites', async () => {
    const list = await as(westViewer, 'GET', '/api/v1/sites');
    assert.deepEqual(list.body.items.map((s: { name: string }) => s.name).sort(), ['west-1', 'west-2']);
    const map = await as(westViewer, 'GET', '/api/v1/site-locations');
    assert.deepEqual([...map.body.names].sort(), ['west-1', 'west-2']);
    const query = await as(westViewer, 'POST', '/api/v1/query', { groupBy: ['label:region'] });
    assert.deepEqual(query.body.groups, [
      { key: { 'label:region': 'west' }, count: 2, values: { count: 2 } },
    ]);
    // asking for east by name finds nothing, rather than an error that says it exists
    const east = await as(westViewer, 'POST', '/api/v1/query', {
      selector: { matchLabels: { region: 'east' } },
    });
    assert.deepEqual(east.body.sites, []);
  });

  test('counts only west: status, bundle counts and attention', async () => {
    const status = (await as(westViewer, 'GET', '/api/v1/status')).body;
    assert.equal(status.sites.total, 2);
    assert.equal(status.sites.byConnectivity.Online, 2);
    assert.deepEqual(status.deployments, { total: 2, byState: { Failed: 1, Ready: 1 } });
    assert.deepEqual(status.bundles[0].byState, { Failed: 1, Ready: 1 });
    assert.deepEqual(
      status.labels.map(
        (l: { label: string; value: string; sites: number }) => `${l.label}=${l.value}:${l.sites}`,
      ),
      ['format=mini:2', 'region=west:2'],
    );
    const fleet = (await hub.get<{ sites: { total: number } }>('/api/v1/status')).sites.total;
    assert.equal(fleet, 5, 'the admin still counts the whole fleet');
    const bundles = (await as(westViewer, 'GET', '/api/v1/bundles')).body.items;
    assert.deepEqual(bundles[0].states, { Failed: 1, Ready: 1 });
    assert.equal(bundles[0].sites, 2);
    assert.equal((await as(westViewer, 'GET', '/api/v1/bundles/web')).body.sites, 2);
    const attention = (await as(westViewer, 'GET', '/api/v1/attention')).body.items;
    assert.deepEqual(
      attention.map((a: { site: string }) => a.site),
      ['west-1'],
    );
  });

  test('reads only west events, listed and streamed', async () => {
    const events = (await as(westViewer, 'GET', '/api/v1/events?limit=1000')).body.items as Array<{
      site: string | null;
    }>;
    assert.ok(events.length > 0);
    assert.ok(
      events.every((e) => e.site === 'west-1' || e.site === 'west-2'),
      JSON.stringify(events),
    );
    const all = (await hub.get<{ items: Array<{ site: string | null }> }>('/api/v1/events?limit=1000')).items;
    assert.ok(
      all.some((e) => e.site?.startsWith('east')),
      'the fleet has east events the token did not see',
    );

    const seen: Array<{ site: string | null }> = [];
    const ac = new AbortController();
    const timeout = setTimeout(() => ac.abort(), 10_000);
    await followEvents(new URL(`${hub.ctx.publicUrl.current}/api/v1/events/stream?after=0`), {
      headers: { authorization: `Bearer ${westViewer}` },
      ca: hub.ctx.tls.ca.certPem,
      signal: ac.signal,
      onMessage: (m) => {
        if (!m.data) return;
        seen.push(JSON.parse(m.data) as { site: string | null });
        if (seen.length === events.length) ac.abort();
      },
    });
    clearTimeout(timeout);
    assert.deepEqual(
      seen.map((e) => e.site),
      events.map((e) => e.site),
    );
  });

  test('cannot see or change a site outside west, nor move one out of west', async () => {
    for (const [method, url, body] of [
      ['GET', '/api/v1/sites/east-1', undefined],
      ['GET', '/api/v1/sites/no-such-site', undefined],
      ['GET', '/api/v1/sites/east-1/slis', undefined],
      ['GET', '/api/v1/bundles/web/rendered?site=east-1', undefined],
      ['GET', '/api/v1/bundles/web/explain?site=east-1', undefined],
    ] as const) {
      const r = await as(westViewer, method, url, body);
      assert.equal(r.status, 403, `${url}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'forbidden');
      assert.doesNotMatch(JSON.stringify(r.body), /east-1 (exists|is)/);
    }
    assert.equal((await as(westViewer, 'GET', '/api/v1/sites/west-1')).status, 200);
    const patchEast = await as(westOperator, 'PATCH', '/api/v1/sites/east-1', { labels: { region: 'west' } });
    assert.equal(patchEast.status, 403);
    const moveOut = await as(westOperator, 'PATCH', '/api/v1/sites/west-2', { labels: { region: 'east' } });
    assert.equal(moveOut.status, 403);
    assert.match(moveOut.body.error.message, /out of the operator reach/);
    const relabel = await as(westOperator, 'PATCH', '/api/v1/sites/west-2', {
      labels: { region: 'west', format: 'max' },
    });
    assert.equal(relabel.status, 200, JSON.stringify(relabel.body));
    assert.equal((await as(westViewer, 'PATCH', '/api/v1/sites/west-2', { labels: {} })).status, 403);
    // nothing the refused calls did shows in the counts
    const status = (
      await hub.get<{ labels: Array<{ label: string; value: string; sites: number }> }>('/api/v1/status')
    ).labels;
    assert.deepEqual(
      status.filter((l) => l.label === 'region').map((l) => `${l.value}:${l.sites}`),
      ['east:3', 'west:2'],
    );
  });

  test('is refused what counts the whole fleet: rollouts, plans, sources, metrics', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/rollouts'],
      ['POST', '/api/v1/plan'],
      ['GET', '/api/v1/sources'],
      ['GET', '/metrics'],
    ] as const) {
      const r = await as(westViewer, method, url, method === 'POST' ? { files: [] } : undefined);
      assert.equal(r.status, 403, `${url}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /over the whole fleet/);
    }
  });

  test('sees an SLO over west sites, not one over the fleet', async () => {
    const base = { bundle: 'web', objective: 0.99, window: '1d', sli: { kind: 'errors' } };
    for (const slo of [
      { ...base, name: 'web-west', selector: { matchLabels: { region: 'west', format: 'mini' } } },
      { ...base, name: 'web-everywhere' },
    ]) {
      assert.equal((await hub.post('/api/v1/slos', slo)).status, 201);
    }
    const listed = (await as(westViewer, 'GET', '/api/v1/slos')).body.items.map(
      (s: { name: string }) => s.name,
    );
    assert.deepEqual(listed, ['web-west']);
    assert.equal((await as(westViewer, 'GET', '/api/v1/slos/web-west')).status, 200);
    const hidden = await as(westViewer, 'GET', '/api/v1/slos/web-everywhere');
    assert.equal(hidden.status, 403);
  });

  test('whoami says what the token reaches', async () => {
    const me = (await as(westOperator, 'GET', '/api/v1/whoami')).body;
    assert.equal(me.role, 'operator');
    assert.deepEqual(me.bindings, [{ role: 'operator', sites: { matchLabels: { region: 'west' } } }]);
  });
});

describe('a team token', () => {
  test('makes bundles its team owns, changes them, and no other team’s', async () => {
    const own = await as(posTeam, 'POST', '/api/v1/bundles/apply', bundleFile('pos', {}, []));
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal((await hub.get<{ team: string }>('/api/v1/bundles/pos')).team, 'pos');
    assert.equal(await bundleOwner(hub.ctx, 'pos'), 'pos');
    const again = await as(
      posTeam,
      'POST',
      '/api/v1/bundles/apply',
      bundleFile('pos', { matchLabels: { a: 'b' } }, []),
    );
    assert.equal(again.status, 200);
    // web belongs to no team: the central team's
    const other = await as(posTeam, 'POST', '/api/v1/bundles/apply', bundleFile('web', {}, []));
    assert.equal(other.status, 403);
    assert.match(other.body.error.message, /bundle web: owned by no team/);
    assert.equal((await as(posTeam, 'DELETE', '/api/v1/bundles/web')).status, 403);
    const slo = { name: 'web-slo', bundle: 'web', objective: 0.9, window: '1d', sli: { kind: 'errors' } };
    assert.equal((await as(posTeam, 'POST', '/api/v1/slos', slo)).status, 403);
    assert.equal(
      (await as(posTeam, 'POST', '/api/v1/slos', { ...slo, name: 'pos-slo', bundle: 'pos' })).status,
      201,
    );
    // fleet-wide, the team still reads everything and makes no tokens
    assert.equal((await as(posTeam, 'GET', '/api/v1/status')).body.sites.total, 5);
    assert.equal(
      (await as(posTeam, 'POST', '/api/v1/api-tokens', { name: 'x', role: 'viewer' })).status,
      403,
    );
    assert.equal((await as(posTeam, 'DELETE', '/api/v1/bundles/pos')).status, 204);
  });

  test("a source's team owns the bundles it brings", async () => {
    await hub.ctx.store.db
      .insertInto('sources')
      .values({
        name: 'kiosk-repo',
        url: '/nowhere',
        ref: 'main',
        path: '',
        interval_seconds: 60,
        auth: '{}',
        webhook_secret: 'x',
        created_at: new Date().toISOString(),
        last_attempt_at: null,
        last_error: null,
        synced_commit: null,
        synced_at: null,
        rejected_commit: null,
        rejected_at: null,
        rejected_errors: null,
        team: 'kiosk',
        insecure: 0,
      })
      .execute();
    await hub.ctx.store.db
      .updateTable('bundles')
      .set({ source: 'kiosk-repo' })
      .where('name', '=', 'web')
      .execute();
    try {
      assert.equal(await bundleOwner(hub.ctx, 'web'), 'kiosk');
      const sync = await as(posTeam, 'POST', '/api/v1/sources/kiosk-repo/sync');
      assert.equal(sync.status, 403);
      assert.match(sync.body.error.message, /source kiosk-repo: team kiosk's/);
    } finally {
      await hub.ctx.store.db.updateTable('bundles').set({ source: null }).where('name', '=', 'web').execute();
    }
  });

  test('bindings are checked when a token is made', async () => {
    const bad = await hub.post('/api/v1/api-tokens', {
      name: 'bad',
      role: 'viewer',
      bindings: [{ role: 'viewer', sites: { matchLabels: { 'no/such/key': 'x' } } }],
    });
    assert.equal(bad.status, 400);
    const listed = await hub.get<{ items: Array<{ name: string; bindings: unknown[] }> }>(
      '/api/v1/api-tokens',
    );
    assert.deepEqual(listed.items.find((t) => t.name === 'pos-team')?.bindings, [
      { role: 'operator', team: 'pos' },
    ]);
  });
});
