import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../model/manifest.ts';
import { readinessOf } from './readiness.ts';

function obj(
  apiVersion: string,
  kind: string,
  parts: { generation?: number; spec?: unknown; status?: unknown } = {},
): KubeObject {
  const o: KubeObject = { apiVersion, kind, metadata: { name: 'x', namespace: 'shop' } };
  if (parts.generation !== undefined) o.metadata.generation = parts.generation;
  if (parts.spec !== undefined) o.spec = parts.spec;
  if (parts.status !== undefined) o.status = parts.status;
  return o;
}

function deployment(status: Record<string, unknown>, replicas = 3): KubeObject {
  return obj('apps/v1', 'Deployment', {
    generation: 2,
    spec: { replicas },
    status: { observedGeneration: 2, ...status },
  });
}

const settled = { replicas: 3, updatedReplicas: 3, availableReplicas: 3, readyReplicas: 3 };

describe('Deployment', () => {
  test('a Deployment whose controller has not seen the latest generation is not ready', () => {
    const r = readinessOf(deployment({ ...settled, observedGeneration: 1 }));
    assert.equal(r.ready, false);
    assert.match(r.reason, /generation 2/);
  });

  test('a Deployment with no status yet is not ready', () => {
    const r = readinessOf(obj('apps/v1', 'Deployment', { generation: 1, spec: { replicas: 1 } }));
    assert.equal(r.ready, false);
  });

  test('a Deployment with fewer updated replicas than wanted is not ready', () => {
    const r = readinessOf(deployment({ ...settled, updatedReplicas: 1 }));
    assert.deepEqual(r, { ready: false, reason: '1 of 3 replicas updated' });
  });

  test('a Deployment with old replicas still terminating is not ready', () => {
    const r = readinessOf(deployment({ ...settled, replicas: 5 }));
    assert.deepEqual(r, { ready: false, reason: '2 old replicas pending termination' });
  });

  test('a Deployment with fewer available replicas than wanted is not ready', () => {
    const r = readinessOf(deployment({ ...settled, availableReplicas: 2 }));
    assert.deepEqual(r, { ready: false, reason: '2 of 3 replicas available' });
  });

  test('a Deployment with every replica updated and available is ready', () => {
    assert.deepEqual(readinessOf(deployment(settled)), { ready: true, reason: 'ready' });
  });

  test('a Deployment without spec.replicas wants one replica', () => {
    const noReplicas = obj('apps/v1', 'Deployment', {
      generation: 1,
      spec: {},
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 0 },
    });
    assert.equal(readinessOf(noReplicas).ready, false);
    const status = noReplicas.status as Record<string, unknown>;
    status.availableReplicas = 1;
    assert.equal(readinessOf(noReplicas).ready, true);
  });

  test('a Deployment scaled to zero is ready with no replicas', () => {
    assert.equal(
      readinessOf(deployment({ replicas: 0, updatedReplicas: 0, availableReplicas: 0 }, 0)).ready,
      true,
    );
  });

  test('a Deployment past its progress deadline has failed', () => {
    const r = readinessOf(
      deployment({
        ...settled,
        updatedReplicas: 1,
        conditions: [
          { type: 'Available', status: 'True' },
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "till-5d4" has timed out progressing.',
          },
        ],
      }),
    );
    assert.equal(r.ready, false);
    assert.equal(r.failed, true);
    assert.match(r.reason, /^ProgressDeadlineExceeded: ReplicaSet "till-5d4" has timed out/);
  });

  test('a Deployment still progressing is only waiting, not failed', () => {
    const r = readinessOf(
      deployment({
        ...settled,
        availableReplicas: 1,
        conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' }],
      }),
    );
    assert.equal(r.ready, false);
    assert.notEqual(r.failed, true);
  });
});

describe('StatefulSet', () => {
  const sts = (status: Record<string, unknown>) =>
    obj('apps/v1', 'StatefulSet', {
      generation: 1,
      spec: { replicas: 2 },
      status: { observedGeneration: 1, ...status },
    });

  test('a StatefulSet with replicas not yet updated is not ready', () => {
    assert.deepEqual(readinessOf(sts({ updatedReplicas: 1, readyReplicas: 2 })), {
      ready: false,
      reason: '1 of 2 replicas updated',
    });
  });

  test('a StatefulSet with replicas not yet ready is not ready', () => {
    assert.deepEqual(readinessOf(sts({ updatedReplicas: 2, readyReplicas: 1 })), {
      ready: false,
      reason: '1 of 2 replicas ready',
    });
  });

  test('a StatefulSet with all replicas updated and ready is ready', () => {
    assert.equal(readinessOf(sts({ updatedReplicas: 2, readyReplicas: 2 })).ready, true);
  });

  test('a StatefulSet behind on generation is not ready', () => {
    assert.equal(
      readinessOf(sts({ updatedReplicas: 2, readyReplicas: 2, observedGeneration: 0 })).ready,
      false,
    );
  });
});

describe('DaemonSet', () => {
  const ds = (status: Record<string, unknown>) =>
    obj('apps/v1', 'DaemonSet', {
      generation: 3,
      status: { observedGeneration: 3, desiredNumberScheduled: 4, ...status },
    });

  test('a DaemonSet with pods not yet updated is not ready', () => {
    assert.deepEqual(readinessOf(ds({ updatedNumberScheduled: 3, numberAvailable: 4 })), {
      ready: false,
      reason: '3 of 4 pods updated',
    });
  });

  test('a DaemonSet with pods not yet available is not ready', () => {
    assert.deepEqual(readinessOf(ds({ updatedNumberScheduled: 4, numberAvailable: 2 })), {
      ready: false,
      reason: '2 of 4 pods available',
    });
  });

  test('a DaemonSet with every scheduled pod updated and available is ready', () => {
    assert.equal(readinessOf(ds({ updatedNumberScheduled: 4, numberAvailable: 4 })).ready, true);
  });
});

describe('ReplicaSet', () => {
  test('a ReplicaSet is ready once enough replicas are available', () => {
    const rs = (available: number) =>
      obj('apps/v1', 'ReplicaSet', {
        generation: 1,
        spec: { replicas: 2 },
        status: { observedGeneration: 1, availableReplicas: available },
      });
    assert.equal(readinessOf(rs(1)).ready, false);
    assert.equal(readinessOf(rs(2)).ready, true);
  });
});

describe('Job', () => {
  const job = (conditions: unknown[]) => obj('batch/v1', 'Job', { generation: 1, status: { conditions } });

  test('a complete Job is ready', () => {
    assert.equal(readinessOf(job([{ type: 'Complete', status: 'True' }])).ready, true);
  });

  test('a failed Job has failed, with its reason', () => {
    const r = readinessOf(job([{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }]));
    assert.deepEqual(r, { ready: false, failed: true, reason: 'BackoffLimitExceeded' });
  });

  test('a running Job is waiting, not failed', () => {
    const r = readinessOf(job([]));
    assert.deepEqual(r, { ready: false, reason: 'job not complete' });
  });

  test('a Job with Complete=False is still waiting', () => {
    assert.equal(readinessOf(job([{ type: 'Complete', status: 'False' }])).ready, false);
  });
});

describe('Pod', () => {
  const pod = (status: Record<string, unknown>) => obj('v1', 'Pod', { status });

  test('a Pod with Ready=True is ready', () => {
    assert.equal(
      readinessOf(pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })).ready,
      true,
    );
  });

  test('a Pod that ran to completion is ready', () => {
    assert.equal(readinessOf(pod({ phase: 'Succeeded' })).ready, true);
  });

  test('a Pod that failed has failed', () => {
    assert.deepEqual(readinessOf(pod({ phase: 'Failed' })), {
      ready: false,
      failed: true,
      reason: 'pod failed',
    });
  });

  test('a running Pod that is not Ready says why', () => {
    const r = readinessOf(
      pod({
        phase: 'Running',
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'ContainersNotReady',
            message: 'containers with unready status: [app]',
          },
        ],
      }),
    );
    assert.deepEqual(r, {
      ready: false,
      reason: 'ContainersNotReady: containers with unready status: [app]',
    });
  });

  test('a pending Pod without conditions is not ready', () => {
    assert.deepEqual(readinessOf(pod({ phase: 'Pending' })), { ready: false, reason: 'pod not ready' });
  });
});

describe('PersistentVolumeClaim', () => {
  test('a Bound claim is ready', () => {
    assert.equal(readinessOf(obj('v1', 'PersistentVolumeClaim', { status: { phase: 'Bound' } })).ready, true);
  });

  test('a Pending claim is not ready', () => {
    assert.deepEqual(readinessOf(obj('v1', 'PersistentVolumeClaim', { status: { phase: 'Pending' } })), {
      ready: false,
      reason: 'claim is Pending',
    });
  });

  test('a claim without status counts as Pending', () => {
    assert.deepEqual(readinessOf(obj('v1', 'PersistentVolumeClaim')), {
      ready: false,
      reason: 'claim is Pending',
    });
  });
});

describe('CustomResourceDefinition', () => {
  const crd = (conditions: unknown[]) =>
    obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', { generation: 1, status: { conditions } });

  test('an Established CRD is ready', () => {
    assert.equal(
      readinessOf(
        crd([
          { type: 'NamesAccepted', status: 'True' },
          { type: 'Established', status: 'True' },
        ]),
      ).ready,
      true,
    );
  });

  test('a CRD not yet Established is not ready', () => {
    assert.equal(readinessOf(crd([{ type: 'NamesAccepted', status: 'True' }])).ready, false);
    assert.equal(readinessOf(crd([{ type: 'Established', status: 'False' }])).ready, false);
  });
});

describe('other kinds', () => {
  test('an object without status, such as a ConfigMap, is ready', () => {
    const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } };
    assert.deepEqual(readinessOf(cm), { ready: true, reason: 'ready' });
  });

  test('a custom resource with Ready=False is not ready, with the condition’s reason', () => {
    const r = readinessOf(
      obj('example.com/v1', 'Widget', {
        status: {
          conditions: [{ type: 'Ready', status: 'False', reason: 'Reconciling', message: 'waiting for db' }],
        },
      }),
    );
    assert.deepEqual(r, { ready: false, reason: 'Reconciling: waiting for db' });
  });

  test('a condition without reason or message is described by type and status', () => {
    const r = readinessOf(
      obj('example.com/v1', 'Widget', { status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }),
    );
    assert.deepEqual(r, { ready: false, reason: 'Ready=Unknown' });
  });

  test('a custom resource with Ready=True is ready', () => {
    assert.equal(
      readinessOf(
        obj('example.com/v1', 'Widget', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }),
      ).ready,
      true,
    );
  });

  test('an Available condition counts when there is no Ready one', () => {
    const svc = (status: string) =>
      obj('apiregistration.k8s.io/v1', 'APIService', {
        status: { conditions: [{ type: 'Available', status }] },
      });
    assert.equal(readinessOf(svc('False')).ready, false);
    assert.equal(readinessOf(svc('True')).ready, true);
  });

  test('an object whose controller is behind on generation is not ready', () => {
    const r = readinessOf(
      obj('example.com/v1', 'Widget', {
        generation: 4,
        status: { observedGeneration: 3, conditions: [{ type: 'Ready', status: 'True' }] },
      }),
    );
    assert.equal(r.ready, false);
    assert.match(r.reason, /generation 4/);
  });

  test('an object that reports no observedGeneration is not held back by its generation', () => {
    const r = readinessOf(obj('example.com/v1', 'Widget', { generation: 4, status: { phase: 'Whatever' } }));
    assert.equal(r.ready, true);
  });
});
