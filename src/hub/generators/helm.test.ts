import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helmErrorLocation, splitHelmOutput } from './helm.ts';

// Messages as Helm v4.3 prints them (test/hub/helm.test.ts runs the real binary on such charts).
test('helm errors point at the chart file and line in the source', () => {
  const chart = 'fleet/pos/chart';
  assert.deepEqual(
    helmErrorLocation('execution error at (pos/templates/x.yaml:2:19): storeId is required', chart),
    { file: 'fleet/pos/chart/templates/x.yaml', line: 2 },
  );
  assert.deepEqual(
    helmErrorLocation(
      'pos/templates/x.yaml:1:13 executing "pos/templates/x.yaml" at <.Values.x.y>: nil pointer',
      chart,
    ),
    { file: 'fleet/pos/chart/templates/x.yaml', line: 1 },
  );
  assert.deepEqual(
    helmErrorLocation('template: pos/charts/printer/templates/p.yaml:7:3: executing …', chart),
    { file: 'fleet/pos/chart/charts/printer/templates/p.yaml', line: 7 },
  );
  assert.deepEqual(
    helmErrorLocation(
      'YAML parse error on pos/templates/x.yaml: error converting YAML to JSON: yaml: line 2: bad',
      chart,
    ),
    { file: 'fleet/pos/chart/templates/x.yaml' },
  );
  assert.deepEqual(helmErrorLocation('found in Chart.yaml, but missing in charts/ directory: redis', chart), {
    file: 'fleet/pos/chart/Chart.yaml',
  });
});

test('helm output splits into one file per template, in order', () => {
  const out = [
    '---',
    '# Source: pos/crds/receipts.yaml',
    'kind: CustomResourceDefinition',
    '---',
    '# Source: pos/templates/a.yaml',
    'kind: ConfigMap',
    '---',
    '# Source: pos/templates/a.yaml',
    'kind: Secret',
    '',
  ].join('\n');
  const files = splitHelmOutput(out, 'fleet/pos/chart');
  assert.deepEqual(
    files.map((f) => f.path),
    ['fleet/pos/chart/crds/receipts.yaml', 'fleet/pos/chart/templates/a.yaml'],
  );
  assert.match(files[1]!.content, /kind: ConfigMap\n---\n# Source: pos\/templates\/a.yaml\nkind: Secret/);
});
