import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IgnoreDifferences } from '../../model/apply-options.ts';
import type { KubeObject } from '../../model/manifest.ts';
import { handoverOf, pointerTokens, rulesFor, withoutIgnored } from './ignore-differences.ts';

const desired: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'till', namespace: 'pos', annotations: { team: 'pos' } },
  spec: {
    replicas: 2,
    template: {
      metadata: { labels: { app: 'till' } },
      spec: { containers: [{ name: 'till', image: 'till:1', env: [{ name: 'MODE', value: 'x' }] }] },
    },
  },
};

/** The live object as the API server keeps it: the agent owns what it applied, an autoscaler the replicas. */
function live(managedFields: unknown[], replicas = 5): KubeObject {
  const copy = structuredClone(desired);
  (copy.spec as { replicas: number }).replicas = replicas;
  copy.metadata.managedFields = managedFields;
  return copy;
}

const outpostFields = {
  manager: 'outpost',
  operation: 'Apply',
  fieldsV1: {
    'f:metadata': { 'f:annotations': { 'f:team': {} } },
    'f:spec': {
      'f:replicas': {},
      'f:template': {
        'f:spec': {
          'f:containers': { 'k:{"name":"till"}': { '.': {}, 'f:name': {}, 'f:image': {}, 'f:env': {} } },
        },
      },
    },
  },
};
const hpaFields = {
  manager: 'hpa-controller',
  operation: 'Update',
  fieldsV1: { 'f:spec': { 'f:replicas': {} } },
};
const injectorFields = {
  manager: 'sidecar-injector',
  operation: 'Update',
  fieldsV1: {
    'f:metadata': { 'f:annotations': { 'f:team': {} } },
    'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"till"}': { 'f:image': {} } } } } },
  },
};

const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'till', namespace: 'pos' };

test('rules match by group, kind, name and namespace as Argo CD does', () => {
  const rules: IgnoreDifferences[] = [
    { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
    { kind: 'Deployment', jsonPointers: ['/a'] }, // no group: the core group only
    { group: '*', kind: '*', name: 'till', namespace: 'pos', jsonPointers: ['/b'] },
    { group: 'apps', kind: 'Deployment', name: 'other', jsonPointers: ['/c'] },
  ];
  assert.deepEqual(
    rulesFor(rules, ref).map((r) => r.jsonPointers![0]),
    ['/spec/replicas', '/b'],
  );
  assert.deepEqual(pointerTokens('/metadata/annotations/example.com~1tier~0x'), [
    'metadata',
    'annotations',
    'example.com/tier~x',
  ]);
});

test('ignored pointers leave the configuration of an existing object, not of a new one', () => {
  const rules: IgnoreDifferences[] = [
    { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
  ];
  assert.equal(withoutIgnored(desired, undefined, rules), desired, 'a new object is created whole');
  const config = withoutIgnored(desired, live([outpostFields]), rules);
  assert.equal((config.spec as Record<string, unknown>).replicas, undefined);
  assert.equal((desired.spec as Record<string, unknown>).replicas, 2, 'the desired object is not changed');
  assert.deepEqual(
    (config.spec as { template: unknown }).template,
    (desired.spec as { template: unknown }).template,
  );
});

test('the fields named managers own leave the configuration, list items keeping their keys', () => {
  const rules: IgnoreDifferences[] = [
    { group: 'apps', kind: 'Deployment', managedFieldsManagers: ['sidecar-injector'] },
  ];
  const config = withoutIgnored(desired, live([outpostFields, injectorFields]), rules);
  assert.deepEqual(config.metadata.annotations, {});
  const containers = (config.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } })
    .template.spec.containers;
  assert.deepEqual(containers, [{ name: 'till', env: [{ name: 'MODE', value: 'x' }] }]);
  assert.equal((config.spec as { replicas: number }).replicas, 2, 'what the manager does not own stays');
});

test('a field the agent still owns is handed over at its live value; one another manager took is not', () => {
  const rules: IgnoreDifferences[] = [
    {
      group: 'apps',
      kind: 'Deployment',
      jsonPointers: ['/spec/replicas', '/spec/template/spec/containers/0/image'],
    },
  ];
  assert.deepEqual(handoverOf(live([outpostFields], 2), rules, 'outpost'), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'till', namespace: 'pos' },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'till', image: 'till:1' }] } } },
  });
  const taken = structuredClone(outpostFields);
  delete (taken.fieldsV1['f:spec'] as Record<string, unknown>)['f:replicas'];
  assert.deepEqual(
    handoverOf(
      live([taken, hpaFields], 5),
      [rules[0]!].map((r) => ({ ...r, jsonPointers: ['/spec/replicas'] })),
      'outpost',
    ),
    undefined,
  );
  assert.equal(
    handoverOf(live([hpaFields]), rules, 'outpost'),
    undefined,
    'nothing of ours: nothing to hand over',
  );
});
