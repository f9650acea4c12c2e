// Helm charts rendered by the real Helm v4 (built from the Go module proxy by scripts/go-tool-fixture.sh):
// values, the site's Kubernetes version, CRDs from crds/, a subchart folder and a vendored subchart
// archive in charts/; a bad template, a missing required value, an incompatible kubeVersion and an
// undeclared dependency each refused with the chart file (and line) and Helm's own message; a chart
// pulled by version from a real OCI registry (docker-registry) it was pushed to with `helm push`.

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  type GeneratedFile,
  type HelmTool,
  helmVersion,
  pullChart,
  renderChart,
} from '../../src/hub/generators/helm.ts';
import { writeTree } from '../../src/hub/generators/tree.ts';
import { OutpostError } from '../../src/model/errors.ts';
import { tempDir } from '../support/git-server.ts';
import { freePort, type Registry, registryBin, registryUser, startRegistry } from '../support/registry.ts';
import { goTool, missingTools, runTool } from '../support/tools.ts';

const skip = missingTools('helm');
let work: { dir: string; remove(): Promise<void> };
let helm: HelmTool;

async function writeChart(dir: string, files: Record<string, string>): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

const till = {
  'Chart.yaml': 'apiVersion: v2\nname: till\nversion: 0.1.0\nkubeVersion: ">=1.25.0-0"\n',
  'values.yaml': 'replicas: 1\nstoreId: ""\nimage: registry.example.com/pos/till:1.4.2\n',
  'templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-till
  labels: {store: {{ required "storeId is required: set it per site" .Values.storeId | quote }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: till}}
  template:
    metadata: {labels: {app: till}}
    spec:
      containers: [{name: till, image: {{ .Values.image | quote }}}]
`,
  'templates/facts.yaml': `apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-facts}
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  namespace: {{ .Release.Namespace | quote }}
`,
  'crds/receipts.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: receipts.pos.example.com}
spec:
  group: pos.example.com
  names: {kind: Receipt, plural: receipts}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
  'charts/printer/Chart.yaml': 'apiVersion: v2\nname: printer\nversion: 0.2.0\n',
  'charts/printer/templates/printer.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: printer}\ndata: {model: "{{ .Values.model | default "tm-t88" }}"}\n',
};

interface Rendered {
  kind: string;
  name: string;
  file: string;
  /** a field by dotted path */
  at(path: string): unknown;
}

function objectsOf(files: GeneratedFile[]): Rendered[] {
  return files.flatMap((f) =>
    parseAllDocuments(f.content)
      .map((d) => d.toJS())
      .filter((d) => d)
      .map((doc) => ({
        kind: doc.kind,
        name: doc.metadata.name,
        file: f.path,
        at: (path: string) =>
          path.split('.').reduce((v, k) => (v as Record<string, unknown>)?.[k], doc as unknown),
      })),
  );
}

async function refusal(promise: Promise<unknown>): Promise<OutpostError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof OutpostError, String(e));
    return e;
  }
  assert.fail('helm did not refuse the chart');
}

before(async () => {
  if (skip) return;
  work = await tempDir('outpost-helm-');
  helm = { bin: goTool('helm')!, timeoutMs: 60_000, maxOutputBytes: 8 << 20 };
  // a vendored dependency: the archive `helm package` makes, in charts/
  const scanner = await writeChart(join(work.dir, 'scanner-src', 'scanner'), {
    'Chart.yaml': 'apiVersion: v2\nname: scanner\nversion: 1.0.0\n',
    'templates/scanner.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: scanner}\ndata: {lanes: "4"}\n',
  });
  await mkdir(join(work.dir, 'till', 'charts'), { recursive: true });
  runTool('helm', ['package', scanner, '--destination', join(work.dir, 'till', 'charts')], {
    env: { HELM_CONFIG_HOME: join(work.dir, 'helm-home'), HELM_CACHE_HOME: join(work.dir, 'helm-home') },
  });
  await writeChart(join(work.dir, 'till'), till);
});

after(async () => {
  await work?.remove();
});

const render = (chartDir: string, values: Record<string, unknown>, kubeVersion = 'v1.33.13') =>
  renderChart(helm, {
    chartDir,
    chartPath: 'fleet/pos/chart',
    release: 'pos',
    namespace: 'pos',
    values: [values],
    kubeVersion,
  });

describe('helm template', { skip, timeout: 180_000 }, () => {
  test('the fixture is Helm v4', async () => {
    assert.match(await helmVersion(helm), /^v4\./);
  });

  test('renders a chart with values, the site version, CRDs and both kinds of subchart', async () => {
    const files = await render(join(work.dir, 'till'), { storeId: 'store-101', replicas: 3 }, 'v1.31.4');
    const objects = objectsOf(files);
    const by = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.name === name);
    assert.equal(by('Deployment', 'pos-till')?.at('spec.replicas'), 3);
    assert.equal(by('Deployment', 'pos-till')?.at('metadata.labels.store'), 'store-101');
    assert.equal(by('Deployment', 'pos-till')?.file, 'fleet/pos/chart/templates/deployment.yaml');
    assert.deepEqual(by('ConfigMap', 'pos-facts')?.at('data'), { kubeVersion: 'v1.31.4', namespace: 'pos' });
    assert.equal(
      by('CustomResourceDefinition', 'receipts.pos.example.com')?.file,
      'fleet/pos/chart/crds/receipts.yaml',
    );
    assert.equal(by('ConfigMap', 'printer')?.file, 'fleet/pos/chart/charts/printer/templates/printer.yaml');
    assert.equal(by('ConfigMap', 'scanner')?.at('data.lanes'), '4');
    assert.equal(objects.length, 5);
  });

  test('a missing required value is refused at the template line with helm’s message', async () => {
    const e = await refusal(render(join(work.dir, 'till'), {}));
    assert.equal(e.code, 'bundle_invalid');
    assert.equal(e.location.file, 'fleet/pos/chart/templates/deployment.yaml');
    assert.equal(e.location.line, 5);
    assert.match(e.message, /storeId is required: set it per site/);
  });

  test('a template that does not parse is refused at its line', async () => {
    const bad = await writeChart(join(work.dir, 'bad-template'), {
      'Chart.yaml': 'apiVersion: v2\nname: bad\nversion: 0.1.0\n',
      'templates/broken.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: "{{ .Values.a "}\n',
    });
    const e = await refusal(render(bad, {}));
    assert.equal(e.location.file, 'fleet/pos/chart/templates/broken.yaml');
    assert.equal(e.location.line, 4);
    assert.match(e.message, /helm template: .*broken\.yaml/);
  });

  test('a Kubernetes version the chart does not support is refused with Chart.yaml', async () => {
    const e = await refusal(render(join(work.dir, 'till'), { storeId: 's' }, 'v1.22.0'));
    assert.equal(e.location.file, 'fleet/pos/chart/Chart.yaml');
    assert.match(e.message, /kubeVersion.*incompatible|incompatible.*v1\.22\.0/i);
  });

  test('a dependency declared but not vendored in charts/ is refused, never fetched', async () => {
    const undeclared = await writeChart(join(work.dir, 'missing-dep'), {
      'Chart.yaml':
        'apiVersion: v2\nname: needy\nversion: 0.1.0\ndependencies:\n  - {name: redis, version: 19.0.0, repository: https://charts.example.com}\n',
      'templates/a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
    });
    const e = await refusal(render(undeclared, {}));
    assert.equal(e.location.file, 'fleet/pos/chart/Chart.yaml');
    assert.match(e.message, /missing in charts\/ directory: redis/);
  });

  test('output over the limit refuses the chart', async () => {
    const e = await refusal(
      renderChart(
        { ...helm, maxOutputBytes: 200 },
        {
          chartDir: join(work.dir, 'till'),
          chartPath: 'c',
          release: 'pos',
          namespace: 'pos',
          values: [{ storeId: 's' }],
        },
      ),
    );
    assert.match(e.message, /more than 200 bytes/);
  });
});

describe('charts from an OCI registry', {
  skip: skip || (registryBin() ? false : 'docker-registry not installed'),
  timeout: 180_000,
}, () => {
  let registry: Registry;
  before(async () => {
    registry = await startRegistry({ auth: true });
    const home = {
      HELM_CONFIG_HOME: join(work.dir, 'push-home'),
      HELM_CACHE_HOME: join(work.dir, 'push-home'),
    };
    const archive = join(work.dir, 'packaged');
    runTool('helm', ['package', join(work.dir, 'till'), '--version', '1.4.3', '--destination', archive], {
      env: home,
    });
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
      ['push', join(archive, 'till-1.4.3.tgz'), `oci://${registry.host}/charts`, '--plain-http'],
      { env: home },
    );
  });
  after(async () => {
    await registry?.close();
  });

  test('pulls a chart by version, pinned by digest, and renders it', async () => {
    const pulled = await pullChart(helm, {
      repository: `oci://${registry.host}/charts/till`,
      version: '1.4.3',
      plainHttp: true,
      ...registryUser,
    });
    assert.match(pulled.digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(pulled.files.some((f) => f.path === 'Chart.yaml'));
    const again = await pullChart(helm, {
      repository: `oci://${registry.host}/charts/till`,
      version: '1.4.3',
      plainHttp: true,
      ...registryUser,
    });
    assert.equal(again.digest, pulled.digest);
    const dir = await writeTree(join(work.dir, 'pulled'), pulled.files);
    const objects = objectsOf(await render(dir, { storeId: 'store-7' }));
    assert.equal(objects.find((o) => o.kind === 'Deployment')?.at('metadata.labels.store'), 'store-7');
  });

  test('a version that is not there, wrong credentials and an unreachable registry are refused', async () => {
    const pull = (over: Partial<Parameters<typeof pullChart>[1]>) =>
      refusal(
        pullChart(helm, {
          repository: `oci://${registry.host}/charts/till`,
          version: '1.4.3',
          plainHttp: true,
          ...registryUser,
          ...over,
        }),
      );
    assert.match((await pull({ version: '9.9.9' })).message, /helm pull .*till:9\.9\.9: .*not found/i);
    assert.match(
      (await pull({ password: 'wrong' })).message,
      /helm registry login to 127\.0\.0\.1:\d+: .*unauthorized/i,
    );
    const closed = await freePort();
    const unreachable = await pull({
      repository: `oci://127.0.0.1:${closed}/charts/till`,
      username: undefined,
    });
    assert.equal(unreachable.code, 'source_failed');
    assert.match(unreachable.message, /connection refused/i);
  });
});
