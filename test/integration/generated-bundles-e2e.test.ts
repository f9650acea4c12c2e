// A Helm chart and a Kustomize folder from a real git repository, rendered by the real helm and
// kustomize at the hub, delivered to a real agent and applied to a real kube-apiserver: the chart's CRD
// and objects carry the site's store id, its reported Kubernetes version and an overlay; a commit Helm
// refuses is rejected and the cluster keeps exactly what it ran.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../support/eventually.ts';
import { type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { goTool, missingTools } from '../support/tools.ts';

const skip = missingTools('helm', 'kustomize');

let kube: KubeFixture;
let fleet: TestHub;
let agent: RunningAgent;
let repo: GitRepo;
let work: { dir: string; remove(): Promise<void> };

const files = {
  'kiosk/bundle.yaml': `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: kiosk}
spec:
  namespace: kiosk
  placement: {selector: {matchLabels: {region: west}}}
  helm:
    chart: ./chart
    values:
      storeId: "\${site.properties.storeId}"
  overlays:
    - selector: {matchLabels: {region: west}}
      target: {kind: ConfigMap, name: kiosk-screen}
      mergePatch: {data: {region: west}}
`,
  'kiosk/chart/Chart.yaml': 'apiVersion: v2\nname: kiosk\nversion: 0.1.0\n',
  'kiosk/chart/values.yaml': 'storeId: ""\n',
  'kiosk/chart/templates/namespace.yaml':
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ .Release.Namespace }}\n',
  'kiosk/chart/templates/screen.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-screen
data:
  store: {{ required "storeId is required" .Values.storeId | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
`,
  'kiosk/chart/crds/sessions.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: sessions.kiosk.example.com}
spec:
  group: kiosk.example.com
  names: {kind: Session, plural: sessions}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
  'printers/bundle.yaml': `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: printers}
spec:
  placement: {selector: {matchLabels: {region: west}}}
  kustomize: {path: overlay}
`,
  'printers/base/kustomization.yaml': 'resources: [namespace.yaml, spooler.yaml]\n',
  'printers/base/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: printing}\n',
  'printers/base/spooler.yaml': `apiVersion: v1
kind: ConfigMap
metadata: {name: spooler, namespace: printing}
data: {store: "\${site.properties.storeId}", paper: a4}
`,
  'printers/overlay/kustomization.yaml': `resources: [../base]
patches:
  - target: {kind: ConfigMap, name: spooler}
    patch: '[{"op": "replace", "path": "/data/paper", "value": "letter"}]'
`,
};

const screenPath = '/api/v1/namespaces/kiosk/configmaps/kiosk-screen';
const spoolerPath = '/api/v1/namespaces/printing/configmaps/spooler';

before(async () => {
  if (skip) return;
  work = await tempDir('outpost-generated-e2e-');
  repo = await createRepo(work.dir, 'fleet');
  kube = await startKube();
  fleet = await startTestHub({ generators: { helm: goTool('helm')!, kustomize: goTool('kustomize')! } });
  agent = await startAgent(fleet, kube.kubeconfigPath, { name: 'store-west', labels: { region: 'west' } });
  await eventually('the store to register', async () => (await fleet.api.sites()).length === 1);
  await fleet.api.patchSite('store-west', { properties: { storeId: 'S-1001' } });
  await fleet.api.addSource({ name: 'fleet', url: repo.dir, ref: 'main', intervalSeconds: 3600 });
});

after(async () => {
  await agent?.stop();
  await fleet?.stop();
  await kube?.stop();
  await work?.remove();
});

describe('generated bundles on a real cluster', { skip, timeout: 240_000 }, () => {
  test('a chart and a kustomization land on the site, customized for it', async () => {
    await repo.commit('kiosk chart and printers kustomization', files);
    const result = await fleet.api.syncSource('fleet');
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));

    const screen = await eventually('the chart’s ConfigMap on the cluster', async () => {
      const r = await kube.request('GET', screenPath);
      return r.status === 200 ? r.body : undefined;
    });
    const reported = (await fleet.api.site('store-west')).facts?.kubernetesVersion as string;
    assert.deepEqual(screen.data, {
      store: 'S-1001',
      kubeVersion: reported.replace(/[+-].*$/, ''),
      region: 'west',
    });
    const crd = await kube.request(
      'GET',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/sessions.kiosk.example.com',
    );
    assert.equal(crd.status, 200, 'the chart’s CRD from crds/ is applied');
    const spooler = await eventually('the kustomization’s ConfigMap on the cluster', async () => {
      const r = await kube.request('GET', spoolerPath);
      return r.status === 200 ? r.body : undefined;
    });
    assert.deepEqual(spooler.data, { store: 'S-1001', paper: 'letter' });
    await eventually('both deployments Ready', async () => {
      const d = (await fleet.api.site('store-west')).deployments;
      return d.length === 2 && d.every((x) => x.state === 'Ready');
    });
  });

  test('a commit Helm refuses is rejected and the cluster keeps what it ran', async () => {
    const before = (await fleet.api.site('store-west')).deployments.map((d) => d.desiredDigest).sort();
    await repo.commit('a broken template and a spooler change', {
      'kiosk/chart/templates/screen.yaml': `${files['kiosk/chart/templates/screen.yaml']}  broken: {{ nosuchfunction }}\n`,
      'printers/base/spooler.yaml': files['printers/base/spooler.yaml'].replace('a4', 'a3'),
    });
    const result = await fleet.api.syncSource('fleet');
    assert.equal(result.status, 'rejected');
    assert.ok(
      result.errors.some(
        (p) =>
          p.file === 'kiosk/chart/templates/screen.yaml' &&
          p.line === 8 &&
          /function "nosuchfunction" not defined/.test(p.message),
      ),
      JSON.stringify(result.errors),
    );
    const after = (await fleet.api.site('store-west')).deployments.map((d) => d.desiredDigest).sort();
    assert.deepEqual(after, before, 'neither bundle moved');
    assert.equal((await kube.request('GET', spoolerPath)).body.data.paper, 'letter');
  });
});
