import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutpostError } from '../model/errors.ts';
import type { KubeObject } from '../model/manifest.ts';
import { parseBundleFiles } from './bundle-files.ts';
import { createRenderer, type RenderInput } from './rendered.ts';

const bundleDoc = `apiVersion: outpost.dev/v1
kind: Bundle
metadata: {name: pos}
spec:
  namespace: pos
  placement:
    selector: {}
  values:
    replicas: 1
    channel: stable
  overlays:
    - selector: {matchLabels: {format: max}}
      values: {replicas: 3}
      images:
        - {name: registry.example.com/pos/till, newTag: "\${values.channel}-max"}
    - sites: [store-13]
      target: {kind: Deployment, name: till}
      jsonPatch:
        - {op: add, path: /spec/template/spec/containers/0/args, value: [--debug]}
      mergePatch:
        metadata: {annotations: {support: "ticket-42"}}
`;

const manifests = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: till
spec:
  replicas: \${values.replicas}
  template:
    spec:
      containers:
        - name: till
          image: registry.example.com/pos/till:1.4.2
          env:
            - {name: STORE_ID, value: "\${site.properties.storeId}"}
            - {name: LANES, value: "lanes \${site.properties.lanes}"}
            - {name: REGION, value: "\${site.labels.region}"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  site: \${site.name}
  legacy: on
  script: echo \${HOME}
`;

function parse(doc = bundleDoc, objects = manifests) {
  const parsed = parseBundleFiles([
    { path: 'pos/bundle.yaml', content: doc },
    { path: 'pos/till.yaml', content: objects },
  ]);
  const input: RenderInput = {
    bundle: parsed.definition.name,
    namespace: parsed.definition.namespace,
    objects: parsed.objects.map((o) => o.object),
    customization: parsed.definition.fleet.customization,
    origins: parsed.origins,
  };
  return { parsed, renderer: createRenderer(input) };
}

const site = (name: string, labels: Record<string, string>, properties: Record<string, unknown>) => ({
  name,
  labels,
  properties,
});

function deployment(objects: KubeObject[]) {
  return objects.find((o) => o.kind === 'Deployment') as KubeObject & {
    spec: { replicas: unknown; template: { spec: { containers: Array<Record<string, unknown>> } } };
  };
}

describe('rendering a bundle for a site', () => {
  const { renderer } = parse();

  test('substitution keeps types: a number stays a number, and YAML 1.1 scalars are as kubectl reads them', () => {
    const blob = renderer.render(
      site('store-1', { region: 'west', format: 'mini' }, { storeId: 1017, lanes: 4 }),
    );
    const d = deployment(blob.rendered.objects);
    assert.equal(d.spec.replicas, 1);
    assert.deepEqual(d.spec.template.spec.containers[0]!.env, [
      { name: 'STORE_ID', value: 1017 },
      { name: 'LANES', value: 'lanes 4' },
      { name: 'REGION', value: 'west' },
    ]);
    const cm = blob.rendered.objects.find((o) => o.kind === 'ConfigMap')!;
    assert.deepEqual(cm.data, { site: 'store-1', legacy: true, script: 'echo ${HOME}' });
  });

  test('an overlay chosen by selector sets values and overrides an image; others are untouched', () => {
    const max = renderer.render(site('store-2', { region: 'west', format: 'max' }, { storeId: 2, lanes: 8 }));
    const d = deployment(max.rendered.objects);
    assert.equal(d.spec.replicas, 3);
    assert.equal(d.spec.template.spec.containers[0]!.image, 'registry.example.com/pos/till:stable-max');
    assert.equal(d.metadata.annotations, undefined);
  });

  test('an overlay for one site by name applies JSON Patch and merge patch to its target only', () => {
    const one = renderer.render(
      site('store-13', { region: 'east', format: 'mini' }, { storeId: 13, lanes: 2 }),
    );
    const d = deployment(one.rendered.objects);
    assert.deepEqual(d.spec.template.spec.containers[0]!.args, ['--debug']);
    assert.deepEqual(d.metadata.annotations, { support: 'ticket-42' });
    const cm = one.rendered.objects.find((o) => o.kind === 'ConfigMap')!;
    assert.equal(cm.metadata.annotations, undefined);
  });

  test('sites with equal inputs get equal digests and keys; any input that matters changes both', () => {
    const a = site('store-1', { region: 'west', format: 'mini' }, { storeId: 7, lanes: 4 });
    const b = { ...a, labels: { ...a.labels, unrelated: 'x' } };
    assert.equal(renderer.keyOf(a), renderer.keyOf(b));
    assert.equal(renderer.render(a).digest, renderer.render(b).digest);
    const c = { ...a, properties: { ...a.properties, lanes: 5 } };
    assert.notEqual(renderer.keyOf(a), renderer.keyOf(c));
    assert.notEqual(renderer.render(a).digest, renderer.render(c).digest);
  });

  test('a bundle that reads nothing from sites has one key for all', () => {
    const plain = createRenderer({
      bundle: 'plain',
      objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: '1' } }],
    });
    assert.equal(plain.keyOf(site('a', { r: '1' }, {})), plain.keyOf(site('b', {}, { p: 2 })));
  });

  test('a missing property fails for that site, naming it, the object, the field and the line', () => {
    assert.throws(
      () => renderer.render(site('store-9', { region: 'west' }, { lanes: 4 })),
      (e: unknown) =>
        e instanceof OutpostError &&
        e.code === 'render_failed' &&
        e.site === 'store-9' &&
        e.location.file === 'pos/till.yaml' &&
        e.location.line === 13 &&
        /Deployment till spec\.template\.spec\.containers\[0\]\.env\[0\]\.value: \$\{site\.properties\.storeId\}: site store-9 has no property "storeId"/.test(
          e.message,
        ),
    );
  });

  test('a patch that does not apply fails for the sites it is for, pointing at the overlay', () => {
    const { renderer: broken } = parse(
      bundleDoc.replace('/spec/template/spec/containers/0/args', '/spec/nope/x'),
    );
    assert.throws(
      () => broken.render(site('store-13', { region: 'east' }, { storeId: 13, lanes: 2 })),
      (e: unknown) =>
        e instanceof OutpostError &&
        e.site === 'store-13' &&
        e.location.file === 'pos/bundle.yaml' &&
        e.location.line === 16,
    );
    assert.doesNotThrow(() => broken.render(site('store-1', { region: 'east' }, { storeId: 1, lanes: 2 })));
  });
});

describe('what is refused before any site is involved', () => {
  function rejects(
    doc: string,
    objects: string,
    want: { code?: string; file?: string; line?: number; message: RegExp },
  ) {
    assert.throws(
      () => parse(doc, objects),
      (e: unknown) => {
        assert.ok(e instanceof OutpostError, String(e));
        assert.match(e.message, want.message);
        if (want.code) assert.equal(e.code, want.code);
        if (want.file) assert.equal(e.location.file, want.file);
        if (want.line) assert.equal(e.location.line, want.line);
        return true;
      },
    );
  }

  test('a value no part of the bundle defines', () => {
    rejects(bundleDoc, manifests.replace('${values.replicas}', '${values.replicaz}'), {
      code: 'bundle_invalid',
      file: 'pos/till.yaml',
      line: 6,
      message: /no value "replicaz"/,
    });
  });

  test('a malformed placeholder', () => {
    rejects(bundleDoc, manifests.replace('${site.name}', '${site.nmae}'), {
      code: 'manifest_invalid',
      file: 'pos/till.yaml',
      line: 22,
      message: /unknown site field "nmae"/,
    });
  });

  test('an overlay target that matches no object', () => {
    rejects(bundleDoc.replace('name: till}', 'name: tll}'), manifests, {
      file: 'pos/bundle.yaml',
      line: 16,
      message: /target .* matches no object/,
    });
  });

  test('a patch without a target, and an overlay that changes nothing', () => {
    rejects(bundleDoc.replace('      target: {kind: Deployment, name: till}\n', ''), manifests, {
      line: 16,
      message: /need a target/,
    });
    rejects(
      bundleDoc.replace('    - sites: [store-13]\n', '    - sites: [store-13]\n    - sites: [x]\n'),
      manifests,
      {
        line: 16,
        message: /changes something/,
      },
    );
  });

  test('a bad CEL expression, at its line', () => {
    rejects(
      bundleDoc.replace('    selector: {}', '    selector: {}\n    cel: "labels.region =="'),
      manifests,
      {
        code: 'bundle_invalid',
        line: 8,
        message: /spec\.placement\.cel: CEL/,
      },
    );
  });

  test('a JSON Patch path that reaches a prototype', () => {
    rejects(bundleDoc.replace('/spec/template/spec/containers/0/args', '/__proto__/x'), manifests, {
      line: 19,
      message: /__proto__/,
    });
  });

  test('unknown fields in placement and overlays', () => {
    rejects(bundleDoc.replace('    selector: {}', '    selector: {}\n    labels: {}'), manifests, {
      line: 8,
      message: /spec\.placement\.labels: unknown field/,
    });
    rejects(bundleDoc.replace('      values: {replicas: 3}', '      valuez: {replicas: 3}'), manifests, {
      message: /spec\.overlays\.0\.valuez: unknown field/,
    });
  });
});
