// Git sync on real parts: a repository made with Debian's git, served by `git http-backend` over
// loopback behind basic auth, synced into a hub on SQLite. A good commit lands with its SHA on every
// revision; a bad commit is rejected whole with file:line and nothing changes; the fix lands; a bundle
// removed from the repository is unplaced; a signed webhook triggers a sync.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { SourceView, SyncResult } from '../../src/model/fleet-wire.ts';
import type { RenderedBundle } from '../../src/render/rendered.ts';
import { eventually } from '../support/eventually.ts';
import { createRepo, type GitRepo, type GitServer, startGitServer, tempDir } from '../support/git-server.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
let git: GitServer;
let repo: GitRepo;
let work: { dir: string; remove(): Promise<void> };
let west: Site;
let east: Site;
let webhookSecret: string;

const posBundle = `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: pos}
spec:
  namespace: pos
  placement:
    selector: {matchExpressions: [{key: region, operator: Exists}]}
  values: {replicas: 1}
  overlays:
    - selector: {matchLabels: {format: max}}
      values: {replicas: 3}
`;

const posConfig = (greeting: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: till
data:
  greeting: ${greeting}
  store: "\${site.properties.storeId}"
  region: "\${site.labels.region}"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: sizing
data:
  replicas: "\${values.replicas}"
`;

const metricsBundle = (interval: string) => `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: metrics}
spec:
  placement: {selector: {}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: scrape, namespace: default}
data: {interval: "${interval}"}
`;

before(async () => {
  work = await tempDir('outpost-git-');
  repo = await createRepo(work.dir, 'fleet.git');
  git = await startGitServer(work.dir, { username: 'fleet-bot', password: 's3cret-token' });
  process.env.OUTPOST_TEST_GIT_PASSWORD = 's3cret-token';
  hub = await startHubServer({ sourcesDir: `${work.dir}/cache` });
  west = await hub.enroll('store-west', { region: 'west', format: 'max' });
  east = await hub.enroll('store-east', { region: 'east', format: 'mini' });
  for (const [name, storeId] of [
    ['store-west', 101],
    ['store-east', 202],
  ] as const) {
    const r = await hub.operator('PATCH', `/api/v1/sites/${name}`, { properties: { storeId } });
    assert.equal(r.statusCode, 200);
  }
});

after(async () => {
  await hub?.close();
  await git?.close();
  await work?.remove();
  delete process.env.OUTPOST_TEST_GIT_PASSWORD;
});

async function sync(): Promise<SyncResult> {
  const r = await hub.operator('POST', '/api/v1/sources/fleet/sync');
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function blobOf(site: Site, bundle: string): Promise<RenderedBundle | undefined> {
  const desired = (await site.call('GET', '/agent/v1/sites/:site/desired')).body as {
    deployments: Array<{ bundle: string; digest: string }>;
  };
  const entry = desired.deployments.find((d) => d.bundle === bundle);
  if (!entry) return undefined;
  const blob = await site.http.request('GET', `/agent/v1/sites/${site.siteId}/blobs/${entry.digest}`, {
    raw: true,
  });
  return JSON.parse(blob.body as string);
}

async function dataOf(site: Site, bundle: string): Promise<Record<string, unknown> | undefined> {
  return (await blobOf(site, bundle))?.objects[0]?.data as Record<string, unknown> | undefined;
}

async function revisions() {
  return hub.ctx.store.db
    .selectFrom('bundle_revisions')
    .select(['bundle', 'revision', 'source_commit'])
    .orderBy('bundle')
    .orderBy('revision')
    .execute()
    .then((rows) => rows.map((r) => ({ ...r })));
}

describe('git sync', () => {
  let good: string;

  test('a source is added by an admin with credentials named, not given', async () => {
    const weak = await hub.operator(
      'POST',
      '/api/v1/sources',
      { name: 'fleet', url: git.url('fleet.git') },
      await hub.tokenFor('operator'),
    );
    assert.equal(weak.statusCode, 403);
    const withSecretInUrl = await hub.operator('POST', '/api/v1/sources', {
      name: 'leaky',
      url: git.url('fleet.git').replace('http://', 'http://bot:pw@'),
    });
    assert.equal(withSecretInUrl.statusCode, 400);
    const r = await hub.operator('POST', '/api/v1/sources', {
      name: 'fleet',
      url: git.url('fleet.git'),
      ref: 'main',
      path: 'fleet',
      intervalSeconds: 3600,
      auth: { username: 'fleet-bot', passwordEnv: 'OUTPOST_TEST_GIT_PASSWORD' },
    });
    assert.equal(r.statusCode, 201, r.body);
    webhookSecret = r.json().webhookSecret;
    assert.equal(r.json().source.webhook, '/hooks/git/fleet');
    assert.ok(!r.body.includes('s3cret-token'));
  });

  test('a good commit lands: every bundle a revision carrying the commit, customized per site', async () => {
    good = await repo.commit('pos and metrics', {
      'fleet/pos/bundle.yaml': posBundle,
      'fleet/pos/manifests/till.yaml': posConfig('hello'),
      'fleet/metrics/metrics.yaml': metricsBundle('30s'),
      'README.md': '# not a fleet definition\n',
      'ci/pipeline.yaml': 'steps: [lint]\n',
    });
    const result = await sync();
    assert.deepEqual(
      { status: result.status, commit: result.commit, changed: result.changed, deleted: result.deleted },
      { status: 'synced', commit: good, changed: ['metrics', 'pos'], deleted: [] },
    );
    assert.deepEqual(await revisions(), [
      { bundle: 'metrics', revision: 1, source_commit: good },
      { bundle: 'pos', revision: 1, source_commit: good },
    ]);
    const w = await blobOf(west, 'pos');
    const e = await blobOf(east, 'pos');
    assert.deepEqual(
      w?.objects.map((o) => o.data),
      [{ greeting: 'hello', store: 101, region: 'west' }, { replicas: 3 }],
    );
    assert.deepEqual(
      e?.objects.map((o) => o.data),
      [{ greeting: 'hello', store: 202, region: 'east' }, { replicas: 1 }],
    );
    const bundles = (await hub.operator('GET', '/api/v1/bundles')).json().items;
    assert.deepEqual(
      bundles.map((b: { name: string; source: string }) => [b.name, b.source]),
      [
        ['metrics', 'fleet'],
        ['pos', 'fleet'],
      ],
    );
  });

  test('syncing the same commit again changes nothing', async () => {
    const result = await sync();
    assert.equal(result.status, 'unchanged');
    assert.equal((await revisions()).length, 2);
  });

  test('a bundle from a source cannot be overwritten by hand', async () => {
    const r = await hub.operator('POST', '/api/v1/bundles/apply', {
      files: [{ path: 'pos.yaml', content: posBundle }],
    });
    assert.equal(r.statusCode, 409);
    assert.match(r.json().error.message, /comes from git source fleet/);
  });

  test('a bad commit is rejected whole with file:line, and nothing changes', async () => {
    const before = await blobOf(west, 'metrics');
    const bad = await repo.commit('break pos, change metrics', {
      'fleet/metrics/metrics.yaml': metricsBundle('10s'),
      'fleet/pos/manifests/till.yaml': `${posConfig('hi')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n`,
    });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    assert.equal(result.commit, bad);
    assert.deepEqual(result.changed, []);
    assert.equal(result.errors.length, 1);
    assert.deepEqual(
      { ...result.errors[0], message: undefined },
      { code: 'manifest_invalid', file: 'fleet/pos/manifests/till.yaml', line: 21, message: undefined },
    );
    assert.deepEqual(await revisions(), [
      { bundle: 'metrics', revision: 1, source_commit: good },
      { bundle: 'pos', revision: 1, source_commit: good },
    ]);
    assert.deepEqual(
      await blobOf(west, 'metrics'),
      before,
      'the valid change in the same commit did not ship',
    );
    const view: SourceView = (await hub.operator('GET', '/api/v1/sources/fleet')).json();
    assert.equal(view.synced?.commit, good);
    assert.equal(view.rejected?.commit, bad);
    assert.equal(view.rejected?.errors[0]?.file, 'fleet/pos/manifests/till.yaml');
    const audit = (await hub.operator('GET', '/api/v1/audit?action=source.reject')).json().items;
    assert.equal(audit[0].details.commit, bad);
  });

  test('every error of a rejected commit is listed, not only the first', async () => {
    await repo.commit('two more mistakes', {
      'fleet/metrics/metrics.yaml': metricsBundle('10s').replace(
        'placement: {selector: {}}',
        'placement: {selector: {}, cel: "labels.region =="}',
      ),
      'fleet/extra/bundle.yaml':
        'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: extra}\nspec:\n  placement: {selector: {}}\n  dependsOn: [nowhere]\n',
    });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    const where = result.errors.map((e) => `${e.file}:${e.line ?? ''} ${e.code}`).sort();
    assert.deepEqual(where, [
      'fleet/extra/bundle.yaml: bundle_invalid',
      'fleet/metrics/metrics.yaml:5 bundle_invalid',
      'fleet/pos/manifests/till.yaml:21 manifest_invalid',
    ]);
  });

  test('the fix lands; a site whose customization cannot be resolved fails alone', async () => {
    const fix = await repo.commit('fix', {
      'fleet/metrics/metrics.yaml': metricsBundle('10s'),
      'fleet/extra/bundle.yaml': null,
      'fleet/pos/manifests/till.yaml': posConfig('hi').replace(
        '"${site.labels.region}"',
        '"${site.labels.region}-${site.properties.lane}"',
      ),
    });
    await hub.operator('PATCH', '/api/v1/sites/store-west', { properties: { storeId: 101, lane: 7 } });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.deepEqual(result.changed, ['metrics', 'pos']);
    assert.deepEqual(
      result.failed.map((f) => [f.bundle, f.site]),
      [['pos', 'store-east']],
    );
    assert.match(result.failed[0]!.message, /store-east has no property "lane"/);
    assert.deepEqual(await revisions(), [
      { bundle: 'metrics', revision: 1, source_commit: good },
      { bundle: 'metrics', revision: 2, source_commit: fix },
      { bundle: 'pos', revision: 1, source_commit: good },
      { bundle: 'pos', revision: 2, source_commit: fix },
    ]);
    assert.equal((await dataOf(west, 'pos'))?.region, 'west-7');
    assert.equal((await dataOf(west, 'metrics'))?.interval, '10s');
    // the failing site keeps running revision 1 and shows Failed with the reason
    assert.equal((await dataOf(east, 'pos'))?.greeting, 'hello');
    const eastDeployment = (await hub.operator('GET', '/api/v1/sites/store-east'))
      .json()
      .deployments.find((d: { bundle: string }) => d.bundle === 'pos');
    assert.equal(eastDeployment.state, 'Failed');
    assert.equal(eastDeployment.desiredRevision, 1);
    assert.match(eastDeployment.message, /no property "lane"/);
  });

  test('a bundle removed from the repository is deleted and unplaced in the same sync', async () => {
    await repo.commit('drop metrics', { 'fleet/metrics/metrics.yaml': null });
    const result = await sync();
    assert.deepEqual([result.status, result.deleted], ['synced', ['metrics']]);
    assert.equal(await blobOf(west, 'metrics'), undefined);
    const names = (await hub.operator('GET', '/api/v1/bundles'))
      .json()
      .items.map((b: { name: string }) => b.name);
    assert.deepEqual(names, ['pos']);
  });

  test('the webhook refuses a wrong secret and syncs on a valid signature', async () => {
    const head = await repo.commit('greet', { 'fleet/pos/manifests/till.yaml': posConfig('welcome') });
    const body = JSON.stringify({ ref: 'refs/heads/main', after: head });
    const post = (headers: Record<string, string>, name = 'fleet') =>
      hub.app.inject({
        method: 'POST',
        url: `/hooks/git/${name}`,
        payload: body,
        headers: { 'content-type': 'application/json', ...headers },
      });
    assert.equal((await post({})).statusCode, 401);
    assert.equal((await post({ 'x-outpost-webhook-secret': 'guess' })).statusCode, 401);
    assert.equal((await post({ 'x-hub-signature-256': 'sha256=00' })).statusCode, 401);
    const signature = `sha256=${createHmac('sha256', webhookSecret).update(body).digest('hex')}`;
    assert.equal((await post({ 'x-hub-signature-256': signature }, 'nope')).statusCode, 401);
    const ok = await post({ 'x-hub-signature-256': signature });
    assert.equal(ok.statusCode, 202);
    await eventually('the webhook sync to land', async () => {
      const view: SourceView = (await hub.operator('GET', '/api/v1/sources/fleet')).json();
      return view.synced?.commit === head;
    });
    assert.equal((await dataOf(west, 'pos'))?.greeting, 'welcome');
    const shared = await post({ 'x-outpost-webhook-secret': webhookSecret });
    assert.equal(shared.statusCode, 202);
  });

  test('a fetch that fails is reported on the source, without the credentials', async () => {
    process.env.OUTPOST_TEST_GIT_PASSWORD = 'wrong-password';
    try {
      const result = await sync();
      assert.equal(result.status, 'failed');
      assert.match(result.errors[0]!.message, /401/);
      const view: SourceView = (await hub.operator('GET', '/api/v1/sources/fleet')).json();
      assert.match(view.lastError ?? '', /401/);
      assert.ok(!JSON.stringify(view).includes('wrong-password'));
    } finally {
      process.env.OUTPOST_TEST_GIT_PASSWORD = 's3cret-token';
    }
  });
});

describe('plan and explain', () => {
  test('plan for a commit shows, per site, the objects that change with a diff; nothing ships', async () => {
    const next = await repo.commit('plan me', {
      'fleet/pos/manifests/till.yaml': `${posConfig('bonjour')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: "1"}\n`,
    });
    const r = await hub.operator('POST', '/api/v1/plan', { source: 'fleet', commit: next });
    assert.equal(r.statusCode, 200, r.body);
    const plan = r.json();
    assert.equal(plan.commit, next);
    assert.deepEqual(plan.errors, []);
    assert.deepEqual(plan.bundles, [{ name: 'pos', change: 'changed', sites: 2 }]);
    const west = plan.sites.find((s: { site: string }) => s.site === 'store-west');
    assert.deepEqual(west.added, ['ConfigMap extra']);
    assert.deepEqual(west.changed, [
      { object: 'ConfigMap till', diff: [{ op: 'replace', path: '/data/greeting', value: 'bonjour' }] },
    ]);
    assert.deepEqual(west.removed, []);
    const east = plan.sites.find((s: { site: string }) => s.site === 'store-east');
    assert.equal(east.action, 'update');
    assert.deepEqual(east.added, ['ConfigMap extra']);
    const view: SourceView = (await hub.operator('GET', '/api/v1/sources/fleet')).json();
    assert.notEqual(view.synced?.commit, next, 'planning did not sync');
  });

  test('plan for files shows a new bundle placed, and an invalid one only as errors', async () => {
    const files = [
      {
        path: 'kiosk/bundle.yaml',
        content:
          'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: kiosk}\nspec:\n  placement:\n    selector: {matchLabels: {format: mini}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: kiosk, namespace: default}\ndata: {store: "${site.name}"}\n',
      },
    ];
    const plan = (await hub.operator('POST', '/api/v1/plan', { files })).json();
    assert.deepEqual(plan.bundles, [{ name: 'kiosk', change: 'new', sites: 1 }]);
    assert.deepEqual(
      plan.sites.map((s: { site: string; action: string; added: string[] }) => [s.site, s.action, s.added]),
      [['store-east', 'place', ['ConfigMap default/kiosk']]],
    );
    const broken = (
      await hub.operator('POST', '/api/v1/plan', {
        files: [
          { path: 'kiosk/bundle.yaml', content: files[0]!.content.replace('${site.name}', '${site.nam}') },
        ],
      })
    ).json();
    assert.deepEqual(broken.sites, []);
    assert.equal(broken.errors[0].file, 'kiosk/bundle.yaml');
    assert.equal(broken.errors[0].line, 11);
  });

  test('explain names each selector term with its outcome, and why a targeted site fails', async () => {
    const miss = (await hub.operator('GET', '/api/v1/bundles/pos/explain?site=store-west')).json();
    assert.equal(miss.targeted, true);
    assert.deepEqual(miss.selector.requirements, [{ requirement: 'region', matched: true }]);
    assert.deepEqual(miss.overlays, [0]);
    await hub.operator('PATCH', '/api/v1/sites/store-east', { properties: {} });
    const east = (await hub.operator('GET', '/api/v1/bundles/pos/explain?site=store-east')).json();
    assert.equal(east.targeted, true);
    assert.match(east.renderError, /store-east has no property "storeId"/);
    await hub.operator('PATCH', '/api/v1/sites/store-east', { labels: { format: 'mini' } });
    const gone = (await hub.operator('GET', '/api/v1/bundles/pos/explain?site=store-east')).json();
    assert.equal(gone.targeted, false);
    assert.equal(gone.reason, 'the selector does not match: region');
    assert.deepEqual(gone.selector.requirements, [{ requirement: 'region', matched: false }]);
  });
});

test('bundle apply refuses a dependsOn naming a bundle that does not exist, and accepts one that does', async () => {
  const doc = (deps: string) =>
    `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: addon}\nspec:\n  placement: {selector: {}}\n  dependsOn: [${deps}]\n`;
  const missing = await hub.operator('POST', '/api/v1/bundles/apply', {
    files: [{ path: 'addon.yaml', content: doc('nowhere') }],
  });
  assert.equal(missing.statusCode, 400);
  assert.match(missing.json().error.message, /bundle addon depends on nowhere, which does not exist/);
  const ok = await hub.operator('POST', '/api/v1/bundles/apply', {
    files: [{ path: 'addon.yaml', content: doc('pos') }],
  });
  assert.equal(ok.statusCode, 200, ok.body);
});
