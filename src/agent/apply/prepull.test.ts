import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../model/manifest.ts';
import { imagesOf, planPrePull, prePullDaemonSet, prePullName, prePullProgress } from './prepull.ts';

function deployment(name: string, images: string[], extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      template: {
        spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })), ...extra },
      },
    },
  };
}

const cronJob: KubeObject = {
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'nightly', namespace: 'ops' },
  spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'backup:2' }] } } } } },
};

describe('planPrePull', () => {
  test('finds the images of every kind of workload, init containers included', () => {
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: {
        initContainers: [{ name: 'i', image: 'migrate:1' }],
        containers: [{ name: 'c', image: 'app:1' }],
      },
    };
    const cm: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x' },
      data: { image: 'nope' },
    };
    assert.deepEqual([...imagesOf([pod, cronJob, cm])].sort(), ['app:1', 'backup:2', 'migrate:1']);
  });

  test('only images the running revision does not have are pulled, per namespace', () => {
    const running = [deployment('web', ['web:1', 'sidecar:1'])];
    const next = [
      deployment('web', ['web:2', 'sidecar:1'], { imagePullSecrets: [{ name: 'registry' }] }),
      cronJob,
    ];
    assert.deepEqual(planPrePull(running, next, 'shop'), [
      { namespace: 'shop', images: ['web:2'], imagePullSecrets: [{ name: 'registry' }] },
      { namespace: 'ops', images: ['backup:2'], imagePullSecrets: [] },
    ]);
  });

  test('a revision that changes no image needs no pre-pull', () => {
    assert.deepEqual(planPrePull([deployment('web', ['web:1'])], [deployment('web', ['web:1'])], 'shop'), []);
  });
});

describe('prePullDaemonSet', () => {
  const ds = prePullDaemonSet(
    'pos',
    { namespace: 'shop', images: ['web:2', 'db:9'], imagePullSecrets: [{ name: 'registry' }] },
    'registry.k8s.io/pause:3.10',
  );
  const pod = (ds.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
    initContainers: Array<{ image: string; command: string[] }>;
    containers: Array<{ image: string }>;
    tolerations: unknown[];
    imagePullSecrets: unknown[];
  };

  test('runs each new image once with a no-op command, then idles on the pause image', () => {
    assert.deepEqual(
      pod.initContainers.map((c) => [c.image, c.command.join(' ')]),
      [
        ['web:2', 'sh -c exit 0'],
        ['db:9', 'sh -c exit 0'],
      ],
    );
    assert.deepEqual(
      pod.containers.map((c) => c.image),
      ['registry.k8s.io/pause:3.10'],
    );
  });

  test('lands on every node, with the pull secrets, in the workload namespace, out of the bundle', () => {
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'registry' }]);
    assert.equal(ds.metadata.namespace, 'shop');
    assert.equal(
      ds.metadata.labels?.['outpost.dev/bundle'],
      undefined,
      'never pruned or watched as bundle content',
    );
    assert.equal(ds.metadata.labels?.['outpost.dev/prepull'], 'pos');
  });

  test('its name stays short enough for the pods named after it', () => {
    assert.ok(prePullName('a'.repeat(63)).length <= 57);
  });
});

describe('prePullProgress', () => {
  const ds = (status: Record<string, unknown> | undefined): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'x', generation: 1 },
    ...(status ? { status } : {}),
  });

  test('unknown until the controller has observed the DaemonSet', () => {
    assert.deepEqual(prePullProgress(ds(undefined)), { pulled: 0, nodes: undefined, done: false });
    assert.deepEqual(prePullProgress(undefined), { pulled: 0, nodes: undefined, done: false });
  });

  test('counts nodes whose pod is ready; done when all are', () => {
    const status = { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3 };
    assert.deepEqual(prePullProgress(ds({ ...status, numberReady: 1 })), {
      pulled: 1,
      nodes: 3,
      done: false,
    });
    assert.deepEqual(prePullProgress(ds({ ...status, numberReady: 3 })), { pulled: 3, nodes: 3, done: true });
  });
});
