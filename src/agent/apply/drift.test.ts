import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../model/manifest.ts';
import { driftOf, maxDriftsPerObject, quantity } from './drift.ts';

function deployment(spec: Record<string, unknown>, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', labels: { 'outpost.dev/bundle': 'pos' } },
    spec,
    ...extra,
  };
}

const container = (over: Record<string, unknown> = {}) => ({ name: 'web', image: 'nginx:1.27', ...over });
const template = (containers: unknown[], over: Record<string, unknown> = {}) => ({
  selector: { matchLabels: { app: 'web' } },
  template: { metadata: { labels: { app: 'web' } }, spec: { containers, ...over } },
});

/** What the API server hands back: the bundle's fields plus defaults, status and server metadata. */
function asServed(obj: KubeObject, edit: (o: KubeObject) => void = () => {}): KubeObject {
  const live = structuredClone(obj) as KubeObject & { spec: Record<string, unknown> };
  live.metadata = {
    ...live.metadata,
    uid: '1b2c',
    resourceVersion: '812',
    generation: 3,
    creationTimestamp: '2025-01-01T00:00:00Z',
    managedFields: [{ manager: 'outpost', operation: 'Apply' }],
  };
  live.spec.revisionHistoryLimit = 10;
  live.spec.strategy = { type: 'RollingUpdate' };
  const podSpec = (live.spec.template as { spec: { containers: Record<string, unknown>[] } }).spec;
  for (const c of podSpec.containers) {
    c.terminationMessagePath = '/dev/termination-log';
    c.imagePullPolicy = 'IfNotPresent';
  }
  live.status = { replicas: 1, observedGeneration: 3 };
  edit(live);
  return live;
}

describe('driftOf', () => {
  test('defaults, status and server metadata the bundle does not set are not drift', () => {
    const want = deployment({ replicas: 2, ...template([container()]) });
    assert.deepEqual(driftOf(want, asServed(want)), []);
  });

  test('a changed field is reported with its path, what the bundle wants and what is there', () => {
    const want = deployment({ replicas: 2, ...template([container()]) });
    const live = asServed(want, (o) => {
      (o.spec as Record<string, unknown>).replicas = 5;
    });
    assert.deepEqual(driftOf(want, live), [{ path: 'spec.replicas', want: '2', got: '5' }]);
  });

  test('containers are matched by name, not by position, and named in the path', () => {
    const want = deployment(template([container(), container({ name: 'sidecar', image: 'envoy:1' })]));
    const live = asServed(want, (o) => {
      const podSpec = (o.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template
        .spec;
      podSpec.containers.reverse();
      podSpec.containers[0]!.image = 'envoy:2';
    });
    assert.deepEqual(driftOf(want, live), [
      { path: 'spec.template.spec.containers[name=sidecar].image', want: '"envoy:1"', got: '"envoy:2"' },
    ]);
  });

  test('an item someone else added to a merged list is theirs, not drift; a removed one is drift', () => {
    const want = deployment(template([container({ env: [{ name: 'MODE', value: 'shop' }] })]));
    const added = asServed(want, (o) => {
      const c = (o.spec as { template: { spec: { containers: { env: unknown[] }[] } } }).template.spec
        .containers[0]!;
      c.env.push({ name: 'INJECTED', value: 'by-webhook' });
    });
    assert.deepEqual(driftOf(want, added), []);
    const removed = asServed(want, (o) => {
      const c = (o.spec as { template: { spec: { containers: { env: unknown[] }[] } } }).template.spec
        .containers[0]!;
      c.env = [];
    });
    assert.deepEqual(driftOf(want, removed), [
      {
        path: 'spec.template.spec.containers[name=web].env[name=MODE]',
        want: '{"name":"MODE","value":"shop"}',
        got: 'absent',
      },
    ]);
  });

  test('a list of plain values must match exactly', () => {
    const want = deployment(template([container({ args: ['--port', '80'] })]));
    const live = asServed(want, (o) => {
      const c = (o.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec
        .containers[0]!;
      c.args = ['--port', '80', '--debug'];
    });
    assert.deepEqual(driftOf(want, live), [
      {
        path: 'spec.template.spec.containers[name=web].args',
        want: '["--port","80"]',
        got: '["--port","80","--debug"]',
      },
    ]);
  });

  test('resource quantities compare by value, as the server rewrites them', () => {
    const want = deployment(
      template([
        container({ resources: { limits: { cpu: 0.5, memory: '1024Mi' }, requests: { cpu: '1000m' } } }),
      ]),
    );
    const live = asServed(want, (o) => {
      const c = (o.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec
        .containers[0]!;
      c.resources = { limits: { cpu: '500m', memory: '1Gi' }, requests: { cpu: '1' } };
    });
    assert.deepEqual(driftOf(want, live), []);
    const raised = asServed(want, (o) => {
      const c = (o.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec
        .containers[0]!;
      c.resources = { limits: { cpu: '2', memory: '1Gi' }, requests: { cpu: '1' } };
    });
    assert.deepEqual(driftOf(want, raised), [
      { path: 'spec.template.spec.containers[name=web].resources.limits.cpu', want: '0.5', got: '"2"' },
    ]);
  });

  test('zero values the server omits, and nulls, are not drift', () => {
    const want = deployment({
      ...template([container()], { hostNetwork: false, nodeSelector: {}, tolerations: [] }),
      paused: false,
    });
    (want.metadata as Record<string, unknown>).creationTimestamp = null;
    assert.deepEqual(
      driftOf(
        want,
        asServed(want, (o) => {
          const spec = o.spec as Record<string, unknown> & { template: { spec: Record<string, unknown> } };
          delete spec.paused;
          delete spec.template.spec.hostNetwork;
          delete spec.template.spec.nodeSelector;
          delete spec.template.spec.tolerations;
          o.metadata.creationTimestamp = '2025-01-01T00:00:00Z';
        }),
      ),
      [],
    );
  });

  test('a removed ownership label is drift, with a readable path', () => {
    const want = deployment(template([container()]));
    const live = asServed(want, (o) => {
      o.metadata.labels = {};
    });
    assert.deepEqual(driftOf(want, live), [
      { path: 'metadata.labels["outpost.dev/bundle"]', want: '"pos"', got: 'absent' },
    ]);
  });

  test('a deleted object is drift as a whole', () => {
    assert.deepEqual(driftOf(deployment({}), undefined), [{ path: '', want: 'present', got: 'absent' }]);
  });

  test("a Secret's stringData is compared as the data it becomes, and its values never appear", () => {
    const want: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'till' },
      stringData: { pin: '1234' },
    };
    const live = (pin: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'till', uid: 'x' },
      data: { pin: Buffer.from(pin).toString('base64') },
      type: 'Opaque',
    });
    assert.deepEqual(driftOf(want, live('1234')), []);
    assert.deepEqual(driftOf(want, live('9999')), [{ path: 'data.pin', want: '(hidden)', got: '(hidden)' }]);
  });

  test('long values are shortened and an object reports a bounded number of fields', () => {
    const data = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'x'.repeat(500)]));
    const want: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data };
    const live: KubeObject = { ...want, data: {} };
    const drift = driftOf(want, live);
    assert.equal(drift.length, maxDriftsPerObject);
    assert.ok(drift[0]!.want.length <= 120);
    assert.ok(drift[0]!.want.endsWith('…'));
  });
});

describe('quantity', () => {
  test('reads the suffixes Kubernetes writes', () => {
    assert.equal(quantity('500m'), 0.5);
    assert.equal(quantity('1Gi'), 1024 ** 3);
    assert.equal(quantity('2k'), 2000);
    assert.equal(quantity('1e3'), 1000);
    assert.equal(quantity(3), 3);
    assert.equal(quantity('lots'), undefined);
  });
});
