import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutpostError } from '../model/errors.ts';
import { type ChartRendering, createChartRenderer } from './chart-bundle.ts';
import type { StoredHelm } from './generator-spec.ts';

const helm: StoredHelm = {
  chart: 'sha256:c',
  chartPath: 'fleet/kiosk/chart',
  release: 'kiosk',
  valuesFiles: [],
  values: { storeId: '${site.properties.storeId}' },
  helm: 'v4.3.2',
  origin: { file: 'fleet/kiosk/bundle.yaml', line: 9 },
};

const site = (name: string, storeId: unknown, region = 'west') => ({
  name,
  labels: { region },
  properties: storeId === undefined ? {} : { storeId },
});

const screen = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'kiosk-screen' },
  data: { store: '101', site: '${site.name}' },
};

/** Asks once for what the site needs, then hands back `rendering` for that digest. */
function renderedAs(rendering: ChartRendering, input: Parameters<typeof createChartRenderer>[0]) {
  const first = createChartRenderer(input, new Map()).render(site('store-1', 101), 'v1.33.0');
  assert.ok('wanted' in first);
  return {
    digest: first.wanted.digest,
    renderer: createChartRenderer(input, new Map([[first.wanted.digest, rendering]])),
  };
}

describe('createChartRenderer', () => {
  test('a site whose inputs nobody rendered asks for them, naming the chart', () => {
    const out = createChartRenderer({ bundle: 'kiosk', objects: [], helm }, new Map()).render(
      site('store-1', 101),
      'v1.33.0',
    );
    assert.ok('wanted' in out);
    assert.equal(out.wanted.chartPath, 'fleet/kiosk/chart');
    assert.deepEqual(out.wanted.inputs.values, { storeId: 101 });
    assert.equal(out.wanted.inputs.kubeVersion, 'v1.33.0');
    assert.equal(out.wanted.inputs.namespace, 'default');
  });

  test('a made rendering gets the site’s placeholders and the overlays that apply to it', () => {
    const input = {
      bundle: 'kiosk',
      namespace: 'kiosk',
      objects: [],
      helm,
      customization: {
        overlays: [
          {
            selector: { matchLabels: { region: 'west' } },
            target: { kind: 'ConfigMap', name: 'kiosk-screen' },
            mergePatch: { metadata: { annotations: { overlaid: 'yes' } } },
          },
        ],
      },
    };
    const { renderer } = renderedAs(
      { objects: [screen], origins: [{ file: 'fleet/kiosk/chart/templates/screen.yaml', line: 1 }] },
      input,
    );
    const out = renderer.render(site('store-1', 101), 'v1.33.0');
    assert.ok('blob' in out);
    const [object] = out.blob.rendered.objects;
    assert.deepEqual(object?.data, { store: '101', site: 'store-1' });
    assert.deepEqual(object?.metadata.annotations, { overlaid: 'yes' });
    assert.equal(out.blob.rendered.namespace, 'kiosk');
  });

  test('Helm’s refusal of a site’s inputs fails that site with Helm’s file and line', () => {
    const { renderer } = renderedAs(
      {
        error: {
          code: 'bundle_invalid',
          message: 'storeId is required',
          file: 'fleet/kiosk/chart/templates/screen.yaml',
          line: 6,
        },
      },
      { bundle: 'kiosk', objects: [], helm },
    );
    assert.throws(
      () => renderer.render(site('store-1', 101), 'v1.33.0'),
      (e: unknown) =>
        e instanceof OutpostError &&
        e.code === 'render_failed' &&
        e.site === 'store-1' &&
        e.location.file === 'fleet/kiosk/chart/templates/screen.yaml' &&
        e.location.line === 6,
    );
  });

  test('an overlay that fits no rendered object is the bundle’s error', () => {
    const { renderer } = renderedAs(
      { objects: [screen], origins: [{ file: 'fleet/kiosk/chart/templates/screen.yaml', line: 1 }] },
      {
        bundle: 'kiosk',
        objects: [],
        helm,
        customization: {
          overlays: [{ target: { kind: 'Deployment', name: 'nope' }, mergePatch: { spec: {} } }],
        },
      },
    );
    assert.throws(
      () => renderer.render(site('store-1', 101), 'v1.33.0'),
      (e: unknown) =>
        e instanceof OutpostError && e.code === 'bundle_invalid' && /matches no object/.test(e.message),
    );
  });

  test('a site missing a property its values read fails alone, at the values', () => {
    assert.throws(
      () =>
        createChartRenderer({ bundle: 'kiosk', objects: [], helm }, new Map()).render(
          site('store-2', undefined),
          undefined,
        ),
      (e: unknown) =>
        e instanceof OutpostError &&
        e.code === 'render_failed' &&
        e.location.file === 'fleet/kiosk/bundle.yaml' &&
        e.location.line === 9,
    );
  });
});
