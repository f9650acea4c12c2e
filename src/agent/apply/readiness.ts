// Whether an applied object has become what it should be, in the manner of kstatus: workload rollouts,
// jobs, pods, claims, CRDs, then generic Ready/Available conditions. Pure: it reads the object only.

import type { KubeObject } from '../../model/manifest.ts';

export interface Readiness {
  ready: boolean;
  /** the object will not become ready without a change (e.g. a failed Job) */
  failed?: boolean;
  reason: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

const ready: Readiness = { ready: true, reason: 'ready' };
const waiting = (reason: string): Readiness => ({ ready: false, reason });

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' ? v : fallback;
}

function conditionsOf(status: Record<string, unknown>): Condition[] {
  return Array.isArray(status.conditions) ? (status.conditions as Condition[]) : [];
}

function condition(status: Record<string, unknown>, type: string): Condition | undefined {
  return conditionsOf(status).find((c) => c.type === type);
}

function describe(c: Condition): string {
  return [c.reason, c.message].filter(Boolean).join(': ') || `${c.type}=${c.status}`;
}

export function readinessOf(obj: KubeObject): Readiness {
  const status = (obj.status ?? {}) as Record<string, unknown>;
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const generation = num(obj.metadata.generation, 0);
  const observed = status.observedGeneration;
  const workload = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(obj.kind);
  if (workload && (typeof observed !== 'number' || observed < generation)) {
    return waiting(`waiting for the controller to observe generation ${generation}`);
  }
  switch (obj.kind) {
    case 'Deployment': {
      const progressing = condition(status, 'Progressing');
      if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
        return { ready: false, failed: true, reason: describe(progressing) };
      }
      const want = num(spec.replicas, 1);
      const updated = num(status.updatedReplicas);
      const available = num(status.availableReplicas);
      const total = num(status.replicas);
      if (updated < want) return waiting(`${updated} of ${want} replicas updated`);
      if (total > updated) return waiting(`${total - updated} old replicas pending termination`);
      if (available < want) return waiting(`${available} of ${want} replicas available`);
      return ready;
    }
    case 'StatefulSet': {
      const want = num(spec.replicas, 1);
      const readyReplicas = num(status.readyReplicas);
      const updated = num(status.updatedReplicas);
      if (updated < want) return waiting(`${updated} of ${want} replicas updated`);
      if (readyReplicas < want) return waiting(`${readyReplicas} of ${want} replicas ready`);
      return ready;
    }
    case 'DaemonSet': {
      const want = num(status.desiredNumberScheduled);
      const updated = num(status.updatedNumberScheduled);
      const available = num(status.numberAvailable);
      if (updated < want) return waiting(`${updated} of ${want} pods updated`);
      if (available < want) return waiting(`${available} of ${want} pods available`);
      return ready;
    }
    case 'ReplicaSet': {
      const want = num(spec.replicas, 1);
      const available = num(status.availableReplicas);
      return available < want ? waiting(`${available} of ${want} replicas available`) : ready;
    }
    case 'Job': {
      const failed = condition(status, 'Failed');
      if (failed?.status === 'True') return { ready: false, failed: true, reason: describe(failed) };
      return condition(status, 'Complete')?.status === 'True' ? ready : waiting('job not complete');
    }
    case 'Pod': {
      if (status.phase === 'Succeeded') return ready;
      if (status.phase === 'Failed') return { ready: false, failed: true, reason: 'pod failed' };
      const c = condition(status, 'Ready');
      return c?.status === 'True' ? ready : waiting(c ? describe(c) : 'pod not ready');
    }
    case 'PersistentVolumeClaim':
      return status.phase === 'Bound' ? ready : waiting(`claim is ${String(status.phase ?? 'Pending')}`);
    case 'CustomResourceDefinition': {
      const c = condition(status, 'Established');
      return c?.status === 'True' ? ready : waiting('CRD not established');
    }
  }
  if (typeof observed === 'number' && observed < generation) {
    return waiting(`waiting for the controller to observe generation ${generation}`);
  }
  const c = condition(status, 'Ready') ?? condition(status, 'Available');
  if (c && c.status !== 'True') return waiting(describe(c));
  return ready;
}
