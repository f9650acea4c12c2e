// A chart whose Chart.yaml declares dependencies it does not vendor, synced from a real git repository
// into a hub running the real Helm v4: a file:// subchart elsewhere in the repository, one from a chart
// repository on 127.0.0.1 (indexed by `helm repo index`) and one from a real OCI registry
// (docker-registry, pushed with `helm push`) are fetched by `helm dependency build` on a scratch copy,
// kept by digest (a commit synced again needs none of the servers), and a dependency that cannot be
// had rejects the commit with Chart.yaml and Helm's message, nothing of it applied.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SyncResult } from '../../src/model/fleet-wire.ts';
import type { RenderedBundle } from '../../src/render/rendered.ts';
import { type ChartRepository, startChartRepository } from '../support/chart-repository.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';
import { type Registry, registryBin, startRegistry } from '../support/registry.ts';
import { goTool, missingTools, runTool } from '../support/tools.ts';

const skip = missingTools('helm') || (registryBin() ? false : 'docker-registry not installed');

let work: { dir: string; remove(): Promise<void> };
let hub: HubServer;
let repo: GitRepo;
let site: Site;
let charts: ChartRepository;
let registry: Registry;

async function writeChart(dir: string, name: string, version: string): Promise<string> {
  await mkdir(join(dir, 'templates'), { recursive: true });
  await writeFile(join(dir, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: ${version}\n`);
  await writeFile(
    join(dir, 'templates', 'config.yaml'),
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata: {version: "${version}"}\n`,
  );
  return dir;
}

const bundle = `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: receipts}
spec:
  namespace: receipts
  placement: {selector: {matchLabels: {region: west}}}
  helm: {chart: ./chart}
`;

const chartYaml = (deps: { printer?: string; lib?: string; queue?: string } = {}) => `apiVersion: v2
name: receipts
version: 0.1.0
dependencies:
  - {name: lib, version: 0.1.0, repository: "file://${deps.lib ?? '../../shared/lib'}"}
  - {name: printer, version: "${deps.printer ?? '~1.2.0'}", repository: "${charts.url}"}
  - {name: queue, version: "${deps.queue ?? '2.0.0'}", repository: "oci://${registry.host}/charts"}
`;

const fleet = () => ({
  'receipts/bundle.yaml': bundle,
  'receipts/chart/Chart.yaml': chartYaml(),
  'receipts/chart/templates/receipts.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: receipts}\n',
  'shared/lib/Chart.yaml': 'apiVersion: v2\nname: lib\nversion: 0.1.0\n',
  'shared/lib/templates/lib.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lib}\n',
});

async function sync(): Promise<SyncResult> {
  const r = await hub.operator('POST', '/api/v1/sources/fleet/sync');
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function configMaps(): Promise<Record<string, unknown>> {
  const desired = (await site.call('GET', '/agent/v1/sites/:site/desired')).body as {
    deployments: Array<{ bundle: string; digest: string }>;
  };
  const entry = desired.deployments.find((d) => d.bundle === 'receipts');
  assert.ok(entry, JSON.stringify(desired));
  const blob = await site.http.request('GET', `/agent/v1/sites/${site.siteId}/blobs/${entry.digest}`, {
    raw: true,
  });
  const objects = (JSON.parse(blob.body as string) as RenderedBundle).objects;
  return Object.fromEntries(
    objects
      .filter((o) => o.kind === 'ConfigMap')
      .map((o) => [o.metadata?.name, (o as { data?: { version?: string } }).data?.version ?? null]),
  );
}

before(async () => {
  if (skip) return;
  work = await tempDir('outpost-chart-deps-');
  charts = await startChartRepository(join(work.dir, 'chart-repository'), [
    await writeChart(join(work.dir, 'src', 'printer-1.2.0', 'printer'), 'printer', '1.2.0'),
    await writeChart(join(work.dir, 'src', 'printer-1.2.4', 'printer'), 'printer', '1.2.4'),
  ]);
  registry = await startRegistry();
  const home = {
    HELM_CONFIG_HOME: join(work.dir, 'push-home'),
    HELM_CACHE_HOME: join(work.dir, 'push-home'),
  };
  const queue = await writeChart(join(work.dir, 'src', 'queue'), 'queue', '2.0.0');
  runTool('helm', ['package', queue, '--destination', join(work.dir, 'packaged')], { env: home });
  runTool(
    'helm',
    ['push', join(work.dir, 'packaged', 'queue-2.0.0.tgz'), `oci://${registry.host}/charts`, '--plain-http'],
    { env: home },
  );
  repo = await createRepo(work.dir, 'fleet');
  hub = await startHubServer({
    sourcesDir: join(work.dir, 'hub-sources'),
    generators: { helm: goTool('helm')!, helmPlainHttp: [registry.host] },
  });
  site = await hub.enroll('store-west', { region: 'west' }, { kubernetesVersion: 'v1.33.1' });
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
  await charts?.close();
  await registry?.close();
  await work?.remove();
});

describe('chart dependencies', { skip, timeout: 240_000 }, () => {
  test('a file:// subchart, one from a chart repository and one from an OCI registry are fetched and rendered', async () => {
    await repo.commit('receipts with three dependencies', fleet());
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.deepEqual(await configMaps(), {
      receipts: null,
      lib: null,
      // ~1.2.0 resolved against the repository's index: the newest patch
      printer: '1.2.4',
      queue: '2.0.0',
    });
    assert.ok(charts.requests.includes('/index.yaml'), charts.requests.join(' '));
    assert.ok(charts.requests.includes('/printer-1.2.4.tgz'), charts.requests.join(' '));
    // helm wrote into a scratch copy: the hub's copy of the commit has no charts/ and no Chart.lock
    const trees = join(work.dir, 'hub-sources', 'trees');
    for (const tree of await readdir(trees)) {
      assert.equal(existsSync(join(trees, tree, 'receipts', 'chart', 'charts')), false);
      assert.equal(existsSync(join(trees, tree, 'receipts', 'chart', 'Chart.lock')), false);
    }
  });

  test('the fetched dependencies are kept by digest: a later commit with the same chart asks no server', async () => {
    const before = charts.requests.length;
    await repo.commit('an unrelated note', { 'README.md': 'the receipts chart\n' });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.equal(charts.requests.length, before, charts.requests.slice(before).join(' '));
    assert.equal((await configMaps()).printer, '1.2.4');
  });

  test('a dependency version the repository lacks rejects the commit at Chart.yaml with helm’s message', async () => {
    const desired = await configMaps();
    await repo.commit('printer 9', { 'receipts/chart/Chart.yaml': chartYaml({ printer: '9.9.9' }) });
    const result = await sync();
    assert.equal(result.status, 'rejected', JSON.stringify(result));
    const [problem] = result.errors;
    assert.equal(problem?.file, 'receipts/chart/Chart.yaml');
    assert.match(problem?.message ?? '', /^helm dependency build: .*"printer".*9\.9\.9/);
    assert.deepEqual(await configMaps(), desired, 'nothing of the commit was applied');
  });

  test('a file:// subchart that is not in the repository and a chart not in the registry reject the commit', async () => {
    await repo.commit('lib moved away', { 'receipts/chart/Chart.yaml': chartYaml({ lib: '../../nowhere' }) });
    let result = await sync();
    assert.equal(result.status, 'rejected', JSON.stringify(result));
    assert.equal(result.errors[0]?.file, 'receipts/chart/Chart.yaml');
    assert.match(result.errors[0]?.message ?? '', /^helm dependency build: .*nowhere.*not found/);

    await repo.commit('queue 3', { 'receipts/chart/Chart.yaml': chartYaml({ queue: '3.0.0' }) });
    result = await sync();
    assert.equal(result.status, 'rejected', JSON.stringify(result));
    assert.equal(result.errors[0]?.file, 'receipts/chart/Chart.yaml');
    assert.match(result.errors[0]?.message ?? '', /^helm dependency build: .*queue/);
  });
});
