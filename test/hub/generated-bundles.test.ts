// Bundles made by Helm and Kustomize, synced from a real git repository into a hub that runs the real
// tools (Helm v4 and kustomize v5 from scripts/go-tool-fixture.sh): a chart with per-site values,
// values files, CRDs and the sites' Kubernetes versions, customized further by overlays, placed a site
// per transaction; a kustomization whose output still takes placeholders. A site that joins later is
// rendered by the leader's renderer; one whose inputs Helm refuses fails alone. A template error, a
// missing required value, a missing kustomize resource and a remote base each reject the commit with
// the file (and line) and the tool's message, and nothing of the commit is applied.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SyncResult } from '../../src/model/fleet-wire.ts';
import type { RenderedBundle } from '../../src/render/rendered.ts';
import { eventually } from '../support/eventually.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';
import { registryBin, registryUser, startRegistry } from '../support/registry.ts';
import { goTool, missingTools, runTool } from '../support/tools.ts';

const skip = missingTools('helm', 'kustomize');

let hub: HubServer;
let repo: GitRepo;
let work: { dir: string; remove(): Promise<void> };
let west: Site;
let east: Site;

const kioskBundle = `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: kiosk}
spec:
  namespace: kiosk
  placement: {selector: {matchExpressions: [{key: region, operator: Exists}]}}
  values: {greeting: hello}
  helm:
    chart: ./chart
    valuesFiles: [production.yaml]
    values:
      storeId: "\${site.properties.storeId}"
      greeting: "\${values.greeting}"
  overlays:
    - selector: {matchLabels: {region: east}}
      values: {greeting: hi}
    - sites: [store-west]
      target: {kind: ConfigMap, name: kiosk-screen}
      mergePatch: {metadata: {annotations: {overlaid: "by outpost"}}}
`;

const screenTemplate = (extra = '') => `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-screen
data:
  store: {{ required "storeId is required: set it per site" .Values.storeId | quote }}
  greeting: {{ .Values.greeting | quote }}
  image: {{ .Values.image | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  site: "\${site.name}"
${extra}`;

const chart = {
  'kiosk/chart/Chart.yaml': 'apiVersion: v2\nname: kiosk\nversion: 0.1.0\nkubeVersion: ">=1.28.0-0"\n',
  'kiosk/chart/values.yaml': 'storeId: ""\ngreeting: ""\nimage: registry.example.com/kiosk:1.0.0\n',
  'kiosk/chart/templates/screen.yaml': screenTemplate(),
  'kiosk/chart/templates/_helpers.tpl': '{{- define "kiosk.name" -}}kiosk{{- end -}}\n',
  'kiosk/chart/crds/sessions.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: sessions.kiosk.example.com}
spec:
  group: kiosk.example.com
  names: {kind: Session, plural: sessions}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
  'kiosk/production.yaml': 'image: registry.example.com/kiosk:2.1.0\n',
};

const printers = {
  'printers/bundle.yaml': `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: printers}
spec:
  placement: {selector: {matchLabels: {region: west}}}
  kustomize: {path: overlays/west}
`,
  'printers/base/kustomization.yaml': 'resources: [spooler.yaml]\n',
  'printers/base/spooler.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: spooler, namespace: printing}
spec:
  selector: {matchLabels: {app: spooler}}
  template:
    metadata: {labels: {app: spooler}}
    spec:
      containers:
        - name: spooler
          image: registry.example.com/spooler:1.0.0
          env: [{name: STORE, value: "\${site.properties.storeId}"}]
`,
  'printers/overlays/west/kustomization.yaml': `resources: [../../base]
namePrefix: west-
images:
  - {name: registry.example.com/spooler, newTag: 1.2.0}
`,
};

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

function objectOf(blob: RenderedBundle | undefined, kind: string) {
  return blob?.objects.find((o) => o.kind === kind) as
    | { metadata: Record<string, unknown>; data?: Record<string, unknown>; spec?: Record<string, unknown> }
    | undefined;
}

async function applied() {
  const db = hub.ctx.store.db;
  return {
    revisions: await db
      .selectFrom('bundle_revisions')
      .select(['bundle', 'revision'])
      .orderBy('bundle')
      .execute(),
    desired: await db.selectFrom('deployments').select(['site_id', 'bundle', 'desired_digest']).execute(),
  };
}

async function deployment(site: Site, bundle: string) {
  return hub.ctx.store.db
    .selectFrom('deployments')
    .select(['state', 'message', 'desired_digest'])
    .where('site_id', '=', site.siteId)
    .where('bundle', '=', bundle)
    .executeTakeFirst();
}

async function rejected(files: Record<string, string | null>): Promise<string[]> {
  const before = await applied();
  await repo.commit('a bad change', files);
  const result = await sync();
  assert.equal(result.status, 'rejected', JSON.stringify(result));
  assert.deepEqual(await applied(), before, 'nothing of the commit was applied');
  return result.errors.map((p) => `${p.file}${p.line ? `:${p.line}` : ''} ${p.message}`);
}

before(async () => {
  if (skip) return;
  work = await tempDir('outpost-generated-');
  repo = await createRepo(work.dir, 'fleet');
  hub = await startHubServer({
    sourcesDir: `${work.dir}/cache`,
    generators: { helm: goTool('helm')!, kustomize: goTool('kustomize')!, renderIntervalMs: 100 },
    // a chunk per site: each chunk loads the renderings its sites need and asks for the missing ones
    placement: { sitesPerTransaction: 1 },
  });
  west = await hub.enroll('store-west', { region: 'west' }, { kubernetesVersion: 'v1.31.4+k3s1' });
  east = await hub.enroll('store-east', { region: 'east' }, { kubernetesVersion: 'v1.33.1' });
  for (const [name, storeId] of [
    ['store-west', 101],
    ['store-east', 202],
  ] as const) {
    const r = await hub.operator('PATCH', `/api/v1/sites/${name}`, { properties: { storeId } });
    assert.equal(r.statusCode, 200);
  }
  const r = await hub.operator('POST', '/api/v1/sources', {
    name: 'fleet',
    url: repo.dir,
    ref: 'main',
    intervalSeconds: 3600,
  });
  assert.equal(r.statusCode, 201, r.body);
});

after(async () => {
  await hub?.close();
  await work?.remove();
});

describe('bundles made by Helm and Kustomize', { skip, timeout: 300_000 }, () => {
  test('a chart renders per site: values, values files, CRDs, the site’s Kubernetes version, then overlays', async () => {
    await repo.commit('kiosk chart and printers kustomization', {
      'kiosk/bundle.yaml': kioskBundle,
      ...chart,
      ...printers,
    });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.deepEqual(result.changed, ['kiosk', 'printers']);
    assert.deepEqual(result.failed, []);

    const w = await blobOf(west, 'kiosk');
    const e = await blobOf(east, 'kiosk');
    assert.equal(w?.namespace, 'kiosk');
    assert.deepEqual(objectOf(w, 'ConfigMap')?.data, {
      store: '101',
      greeting: 'hello',
      image: 'registry.example.com/kiosk:2.1.0',
      kubeVersion: 'v1.31.4',
      site: 'store-west',
    });
    assert.deepEqual(objectOf(w, 'ConfigMap')?.metadata.annotations, { overlaid: 'by outpost' });
    assert.deepEqual(objectOf(e, 'ConfigMap')?.data, {
      store: '202',
      greeting: 'hi',
      image: 'registry.example.com/kiosk:2.1.0',
      kubeVersion: 'v1.33.1',
      site: 'store-east',
    });
    assert.equal(objectOf(e, 'ConfigMap')?.metadata.annotations, undefined);
    assert.ok(objectOf(w, 'CustomResourceDefinition'), 'CRDs from crds/ are part of the bundle');
    const renderings = await hub.ctx.store.db.selectFrom('chart_renderings').select(['state']).execute();
    assert.deepEqual(
      renderings.map((r) => r.state),
      ['rendered', 'rendered'],
      'one rendering per distinct set of inputs',
    );
  });

  test('a kustomization builds once; its output takes placeholders and placement like written manifests', async () => {
    const spooler = objectOf(await blobOf(west, 'printers'), 'Deployment');
    assert.ok(spooler, 'west gets the kustomization');
    assert.equal(spooler.metadata.name, 'west-spooler');
    const container = (
      spooler.spec as { template: { spec: { containers: Array<{ image: string; env: unknown }> } } }
    ).template.spec.containers[0]!;
    assert.equal(container.image, 'registry.example.com/spooler:1.2.0');
    assert.deepEqual(container.env, [{ name: 'STORE', value: 101 }]);
    assert.equal(await blobOf(east, 'printers'), undefined, 'east is not targeted');
  });

  test('a site that joins later is rendered by the leader’s renderer; one Helm refuses fails alone', async () => {
    const north = await hub.enroll('store-north', { region: 'north' }, { kubernetesVersion: 'v1.32.0' });
    const patched = await hub.operator('PATCH', '/api/v1/sites/store-north', {
      properties: { storeId: 303 },
    });
    assert.equal(patched.statusCode, 200);
    await eventually('the leader renders the chart for the new site', async () => {
      assert.equal(objectOf(await blobOf(north, 'kiosk'), 'ConfigMap')?.data?.store, '303');
      return true;
    });
    assert.equal(objectOf(await blobOf(north, 'kiosk'), 'ConfigMap')?.data?.kubeVersion, 'v1.32.0');
    await eventually('the renderer’s placement runs to its end and clears what it marked due', async () => {
      assert.deepEqual(await hub.ctx.store.db.selectFrom('placement_due').selectAll().execute(), []);
      return true;
    });

    const south = await hub.enroll('store-south', { region: 'south' }, { kubernetesVersion: 'v1.32.0' });
    assert.match(
      (await deployment(south, 'kiosk'))?.message ?? '',
      /spec\.helm\.values\.storeId: /,
      'a site without the property the values read fails alone',
    );
    // an empty store id passes the placeholder but not the chart's `required`
    await hub.operator('PATCH', '/api/v1/sites/store-south', { properties: { storeId: '' } });
    await eventually('the chart’s refusal fails the site', async () => {
      const d = await deployment(south, 'kiosk');
      assert.equal(d?.state, 'Failed');
      assert.match(d?.message ?? '', /storeId is required: set it per site/);
      return true;
    });
    assert.equal(
      objectOf(await blobOf(west, 'kiosk'), 'ConfigMap')?.data?.store,
      '101',
      'others keep theirs',
    );
  });

  test('a template error rejects the commit with the chart file and line', async () => {
    const problems = await rejected({
      'kiosk/chart/templates/screen.yaml': screenTemplate(
        '  broken: {{ .Values.greeting | nosuchfunction }}\n',
      ),
    });
    assert.ok(
      problems.some((p) =>
        /^kiosk\/chart\/templates\/screen\.yaml:11 helm template: .*function "nosuchfunction" not defined/.test(
          p,
        ),
      ),
      problems.join('\n'),
    );
  });

  test('a missing required value rejects the commit with Helm’s message', async () => {
    const problems = await rejected({
      'kiosk/chart/templates/screen.yaml': screenTemplate(),
      'kiosk/bundle.yaml': kioskBundle.replace('storeId: "${site.properties.storeId}"', 'storeId: ""'),
    });
    assert.ok(
      problems.some((p) =>
        /^kiosk\/chart\/templates\/screen\.yaml:6 .*storeId is required: set it per site/.test(p),
      ),
      problems.join('\n'),
    );
  });

  test('a kustomization with a missing resource, and one naming a remote base, reject the commit', async () => {
    const missing = await rejected({
      'kiosk/bundle.yaml': kioskBundle,
      'printers/base/kustomization.yaml': 'resources: [spooler.yaml, queue.yaml]\n',
    });
    assert.ok(
      missing.some((p) =>
        /^printers\/overlays\/west\/kustomization\.yaml kustomize build: .*queue\.yaml/.test(p),
      ),
      missing.join('\n'),
    );
    const remote = await rejected({
      'printers/base/kustomization.yaml':
        'resources:\n  - spooler.yaml\n  - https://github.com/example/printers//base?ref=v1\n',
    });
    assert.ok(
      remote.some((p) =>
        /^printers\/base\/kustomization\.yaml:3 resources\[1\] .* is a remote base; .*--kustomize-remote-bases/.test(
          p,
        ),
      ),
      remote.join('\n'),
    );
  });

  test('files in a chart bundle’s folder are Helm’s input: a template that is YAML only once rendered syncs', async () => {
    await repo.commit('a conditional template', {
      'printers/base/kustomization.yaml': printers['printers/base/kustomization.yaml'],
      'kiosk/chart/templates/banner.yaml': `{{- if .Values.greeting }}
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-banner}
data: {text: {{ .Values.greeting | upper | quote }}}
{{- end }}
`,
    });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.deepEqual(result.changed, ['kiosk']);
    const banner = (await blobOf(east, 'kiosk'))?.objects.find((o) => o.metadata?.name === 'kiosk-banner');
    assert.deepEqual((banner as { data?: unknown } | undefined)?.data, { text: 'HI' });
  });

  test('a site whose cluster is upgraded gets its charts rendered again for the version it reports', async () => {
    const r = await west.call('POST', '/agent/v1/sites/:site/report', {
      seq: 1000,
      deployments: [],
      stack: { agentVersion: 'test', kubernetesVersion: 'v1.32.6+k3s1', nodes: [] },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const screen = async (site: Site) =>
      (await blobOf(site, 'kiosk'))?.objects.find((o) => o.metadata?.name === 'kiosk-screen') as
        | { data?: Record<string, string> }
        | undefined;
    const eastBefore = await screen(east);
    const upgraded = await eventually('west rendered for v1.32.6', async () => {
      const data = (await screen(west))?.data;
      return data?.kubeVersion === 'v1.32.6' ? data : undefined;
    });
    assert.equal(upgraded.store, '101');
    assert.equal(eastBefore?.data?.kubeVersion, 'v1.33.1');
    assert.deepEqual(await screen(east), eastBefore, 'the other site is left alone');
  });
});

describe('the chart and kustomization examples in examples/fleet', { skip, timeout: 120_000 }, () => {
  test('sync from a repository of their own and render for the sites', async () => {
    const examples = await createRepo(work.dir, 'examples');
    const folder = resolve(import.meta.dirname, '..', '..', 'examples', 'fleet');
    const files: Record<string, string> = {};
    for (const path of await readdir(folder, { recursive: true })) {
      const full = join(folder, path);
      if (!/^(signage|scanners)\//.test(path)) continue;
      if ((await stat(full)).isFile()) files[`generated/${path}`] = await readFile(full, 'utf8');
    }
    await examples.commit('the examples', files);
    const added = await hub.operator('POST', '/api/v1/sources', {
      name: 'examples',
      url: examples.dir,
      ref: 'main',
      intervalSeconds: 3600,
    });
    assert.equal(added.statusCode, 201, added.body);
    await hub.operator('PATCH', '/api/v1/sites/store-west', { labels: { region: 'west', format: 'mini' } });
    const synced = (await hub.operator('POST', '/api/v1/sources/examples/sync')).json() as SyncResult;
    assert.equal(synced.status, 'synced', JSON.stringify(synced.errors));
    assert.deepEqual(synced.changed, ['scanners', 'signage']);

    const player = objectOf(await blobOf(west, 'signage'), 'Deployment') as unknown as {
      spec: {
        template: { spec: { containers: Array<{ image: string; env: unknown; resources: unknown }> } };
      };
    };
    const [container] = player.spec.template.spec.containers;
    assert.equal(container?.image, 'registry.example.com/signage/player:2.3.0', 'from production.yaml');
    assert.deepEqual(container?.env, [
      { name: 'REGION', value: 'west' },
      { name: 'PLAYLIST', value: 'default' },
    ]);
    assert.deepEqual(
      container?.resources,
      { requests: { cpu: '50m', memory: '64Mi' } },
      'the format=mini overlay',
    );
    const gateway = objectOf(await blobOf(west, 'scanners'), 'Deployment') as unknown as {
      spec: { template: { spec: { containers: Array<{ image: string; env: unknown }> } } };
    };
    assert.equal(
      gateway.spec.template.spec.containers[0]?.image,
      'registry.example.com/scanners/gateway:1.0.1',
    );
    assert.deepEqual(gateway.spec.template.spec.containers[0]?.env, [{ name: 'STORE_ID', value: 101 }]);
  });
});

describe('a chart named by an OCI registry that needs a login, and a version', {
  skip: skip || (registryBin() ? false : 'docker-registry not installed'),
  timeout: 120_000,
}, () => {
  test('is pulled at sync, pinned, rendered per site; a version not there rejects the commit', async () => {
    const registry = await startRegistry({ auth: true });
    process.env.OUTPOST_TEST_CHARTS_PASSWORD = registryUser.password;
    const charts = await createRepo(work.dir, 'charts');
    const pulling = await startHubServer({
      sourcesDir: `${work.dir}/pulling`,
      generators: {
        helm: goTool('helm')!,
        helmPlainHttp: [registry.host],
        helmLogins: [
          {
            host: registry.host,
            username: registryUser.username,
            passwordEnv: 'OUTPOST_TEST_CHARTS_PASSWORD',
          },
        ],
      },
    });
    try {
      const chartDir = join(work.dir, 'kiosk-chart');
      for (const [path, content] of Object.entries(chart)) {
        if (!path.startsWith('kiosk/chart/')) continue;
        const file = join(chartDir, path.slice('kiosk/chart/'.length));
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, content);
      }
      const home = {
        HELM_CONFIG_HOME: join(work.dir, 'push-home'),
        HELM_CACHE_HOME: join(work.dir, 'push-home'),
      };
      runTool('helm', ['package', chartDir, '--destination', join(work.dir, 'packaged')], { env: home });
      runTool(
        'helm',
        [
          'registry',
          'login',
          registry.host,
          '--plain-http',
          '-u',
          registryUser.username,
          '-p',
          registryUser.password,
        ],
        { env: home },
      );
      runTool(
        'helm',
        [
          'push',
          join(work.dir, 'packaged', 'kiosk-0.1.0.tgz'),
          `oci://${registry.host}/charts`,
          '--plain-http',
        ],
        { env: home },
      );
      const site = await pulling.enroll('store-west', { region: 'west' }, { kubernetesVersion: 'v1.32.2' });
      await pulling.operator('PATCH', '/api/v1/sites/store-west', { properties: { storeId: 404 } });
      const bundle = (version: string) => `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: kiosk}
spec:
  namespace: kiosk
  placement: {selector: {matchLabels: {region: west}}}
  helm:
    repository: oci://${registry.host}/charts/kiosk
    version: ${version}
    values: {storeId: "\${site.properties.storeId}", greeting: pulled}
`;
      await charts.commit('kiosk from the registry', { 'kiosk/bundle.yaml': bundle('0.1.0') });
      const added = await pulling.operator('POST', '/api/v1/sources', {
        name: 'charts',
        url: charts.dir,
        ref: 'main',
        intervalSeconds: 3600,
      });
      assert.equal(added.statusCode, 201, added.body);
      const synced = (await pulling.operator('POST', '/api/v1/sources/charts/sync')).json() as SyncResult;
      assert.equal(synced.status, 'synced', JSON.stringify(synced.errors));
      assert.deepEqual(objectOf(await blobOf(site, 'kiosk'), 'ConfigMap')?.data, {
        store: '404',
        greeting: 'pulled',
        image: 'registry.example.com/kiosk:1.0.0',
        kubeVersion: 'v1.32.2',
        site: 'store-west',
      });

      await charts.commit('a version never pushed', { 'kiosk/bundle.yaml': bundle('9.9.9') });
      const refused = (await pulling.operator('POST', '/api/v1/sources/charts/sync')).json() as SyncResult;
      assert.equal(refused.status, 'rejected');
      assert.ok(
        refused.errors.some((p) => p.file === 'kiosk/bundle.yaml' && /9\.9\.9/.test(p.message)),
        JSON.stringify(refused.errors),
      );
      const revisions = await pulling.ctx.store.db
        .selectFrom('bundle_revisions')
        .select('revision')
        .execute();
      assert.equal(revisions.length, 1, 'nothing of the refused commit was stored');
    } finally {
      await pulling.close();
      await registry.close();
      delete process.env.OUTPOST_TEST_CHARTS_PASSWORD;
    }
  });
});

describe('a hub without helm', { skip, timeout: 60_000 }, () => {
  test('refuses a chart bundle and says how to give it one', async () => {
    const bare = await startHubServer({ generators: { helm: `${work.dir}/no-helm-here` } });
    try {
      const r = await bare.operator('POST', '/api/v1/sources', { name: 'fleet', url: repo.dir, ref: 'main' });
      assert.equal(r.statusCode, 201, r.body);
      const result = (await bare.operator('POST', '/api/v1/sources/fleet/sync')).json() as SyncResult;
      assert.equal(result.status, 'rejected');
      assert.ok(
        result.errors.some(
          (p) =>
            p.file === 'kiosk/bundle.yaml' && /the hub has no helm .* give hub --helm PATH/.test(p.message),
        ),
        JSON.stringify(result.errors),
      );
      assert.equal((await bare.ctx.store.db.selectFrom('bundles').selectAll().execute()).length, 0);
    } finally {
      await bare.close();
    }
  });
});
