import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutpostError } from '../model/errors.ts';
import {
  chartInputDigest,
  chartInputsFor,
  kubeVersionForHelm,
  parseGeneratorSpec,
  type StoredHelm,
} from './generator-spec.ts';

const doc = { file: 'fleet/pos/bundle.yaml', line: 1, lineOf: (path: readonly string[]) => path.length + 10 };

function refused(spec: Record<string, unknown>): OutpostError {
  try {
    parseGeneratorSpec(spec, 'pos', doc);
  } catch (e) {
    assert.ok(e instanceof OutpostError);
    return e;
  }
  assert.fail('the spec was accepted');
}

describe('parseGeneratorSpec', () => {
  test('a chart in the bundle folder, with defaults', () => {
    assert.deepEqual(
      parseGeneratorSpec({ helm: { values: { lanes: '${site.properties.lanes}' } } }, 'pos', doc),
      {
        helm: {
          chart: { path: '.' },
          releaseName: 'pos',
          valuesFiles: [],
          values: { lanes: '${site.properties.lanes}' },
          origin: { file: 'fleet/pos/bundle.yaml', line: 13 },
        },
      },
    );
  });

  test('a chart from a registry needs a version; from a chart repository also a name', () => {
    assert.deepEqual(
      parseGeneratorSpec(
        { helm: { repository: 'oci://registry.example.com/charts/till', version: '1.4.3' } },
        'pos',
        doc,
      ).helm?.chart,
      { repository: 'oci://registry.example.com/charts/till', version: '1.4.3' },
    );
    assert.match(
      refused({ helm: { repository: 'oci://r.example.com/charts/till' } }).message,
      /spec\.helm\.version: the chart version/,
    );
    assert.match(
      refused({ helm: { repository: 'https://charts.example.com', version: '1.0.0' } }).message,
      /spec\.helm\.name: the chart name/,
    );
    assert.match(
      refused({ helm: { chart: './c', repository: 'oci://r/c', version: '1' } }).message,
      /not both/,
    );
  });

  test('a kustomization folder, and never both generators', () => {
    assert.deepEqual(parseGeneratorSpec({ kustomize: { path: 'overlays/west' } }, 'mon', doc), {
      kustomize: { path: 'overlays/west' },
    });
    assert.deepEqual(parseGeneratorSpec({ kustomize: {} }, 'mon', doc), { kustomize: { path: '.' } });
    assert.match(refused({ helm: {}, kustomize: {} }).message, /Helm or by Kustomize, not both/);
  });

  test('errors name the field and its line', () => {
    const e = refused({ helm: { chart: '/etc/charts/pos' } });
    assert.equal(e.location.file, 'fleet/pos/bundle.yaml');
    assert.equal(e.location.line, 13);
    assert.match(e.message, /^spec\.helm\.chart: a chart folder relative to the bundle/);
    assert.match(
      refused({ helm: { values: { a: '${site.nope}' } } }).message,
      /spec\.helm\.values\.a: .*unknown site field/,
    );
    assert.match(refused({ helm: { releaseName: 'Not_A_Label' } }).message, /releaseName: a DNS label/);
    assert.match(refused({ helm: { valueFiles: [] } }).message, /unknown field \(known: chart/);
  });
});

describe('chartInputsFor', () => {
  const helm: StoredHelm = {
    chart: 'sha256:c',
    chartPath: 'fleet/pos/chart',
    release: 'pos',
    valuesFiles: [{ image: 'till:1.4.3' }],
    values: {
      storeId: '${site.properties.storeId}',
      region: 'r-${site.labels.region}',
      cpu: '${values.cpu}',
    },
    helm: 'v4.3.2',
    origin: { file: 'fleet/pos/bundle.yaml', line: 7 },
  };
  const site = (name: string, storeId: number) => ({
    name,
    labels: { region: 'west' },
    properties: { storeId },
  });

  test('values take the site’s inputs with their types', () => {
    const inputs = chartInputsFor(helm, 'pos', site('store-1', 101), { cpu: '250m' }, 'v1.33.0');
    assert.deepEqual(inputs, {
      chart: 'sha256:c',
      release: 'pos',
      namespace: 'pos',
      valuesFiles: [{ image: 'till:1.4.3' }],
      values: { storeId: 101, region: 'r-west', cpu: '250m' },
      kubeVersion: 'v1.33.0',
      helm: 'v4.3.2',
    });
  });

  test('sites with equal inputs share a digest; any input that differs changes it', () => {
    const digest = (name: string, storeId: number, kube?: string) =>
      chartInputDigest(chartInputsFor(helm, 'pos', site(name, storeId), { cpu: '250m' }, kube));
    assert.equal(digest('store-1', 101, 'v1.33.0'), digest('store-2', 101, 'v1.33.0'));
    assert.notEqual(digest('store-1', 101, 'v1.33.0'), digest('store-1', 102, 'v1.33.0'));
    assert.notEqual(digest('store-1', 101, 'v1.33.0'), digest('store-1', 101, 'v1.32.0'));
    assert.notEqual(digest('store-1', 101), digest('store-1', 101, 'v1.33.0'));
  });

  test('a site without a property the values read fails alone, naming the field', () => {
    assert.throws(
      () =>
        chartInputsFor(
          helm,
          'pos',
          { name: 'store-9', labels: { region: 'east' }, properties: {} },
          { cpu: '1' },
          undefined,
        ),
      (e: Error) =>
        e instanceof OutpostError &&
        e.code === 'render_failed' &&
        e.site === 'store-9' &&
        e.location.line === 7 &&
        /site store-9: spec\.helm\.values\.storeId: /.test(e.message),
    );
  });

  test('the Kubernetes version a site reports is what Helm reads as .Capabilities.KubeVersion', () => {
    assert.equal(kubeVersionForHelm('v1.33.13+k3s1'), 'v1.33.13');
    assert.equal(kubeVersionForHelm('1.30'), 'v1.30.0');
    assert.equal(kubeVersionForHelm('v1.31.0-sim'), 'v1.31.0');
    assert.equal(kubeVersionForHelm(undefined), undefined);
    assert.equal(kubeVersionForHelm('unknown'), undefined);
  });
});
