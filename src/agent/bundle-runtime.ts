// What the agent holds in memory about one desired bundle between reconcile passes, and how that reads
// in a report to the hub: state, counts, what is not ready and what drifted, each within the wire's bounds.

import type { ReportedState } from '../model/deployment.ts';
import type { DeploymentReport, DesiredDeployment } from '../model/wire.ts';
import type { DesiredObject } from './apply/engine.ts';
import type { ObjectHealth } from './apply/progress.ts';

export interface BundleRuntime {
  bundle: string;
  revision: number;
  digest: string;
  state: ReportedState;
  message: string;
  total: number;
  applied: number;
  /** per object, from the last inspection (refKey → health) */
  health: Map<string, ObjectHealth>;
  /** the bundle's objects as applied, cached per digest */
  desired?: { digest: string; objects: DesiredObject[] };
  /** objects a watch saw change since the last inspection */
  touched: Set<string>;
  /** inspect everything at the next pass */
  fullCheckDue: boolean;
  lastFullCheck: number;
  /** when the next attempt is due after a failure */
  retryAt?: number;
  attempts: number;
  prePull?: { digest: string; since: number; namespaces: string[]; done: boolean };
  /** when drift was last corrected; a field someone keeps changing back is corrected at a bounded rate */
  lastCorrection: number;
  /** the bundles its manifests say must be Ready here first (spec.dependsOn) */
  dependsOn: string[];
}

/** Reports carry at most this many drift entries per bundle. */
const maxDriftInReport = 100;

/** A bundle just placed here (or seen for the first time since the agent started). */
export function newRuntime(d: DesiredDeployment): BundleRuntime {
  return {
    bundle: d.bundle,
    revision: d.revision,
    digest: d.digest,
    state: 'Applying',
    message: '',
    total: 0,
    applied: 0,
    health: new Map(),
    touched: new Set(),
    fullCheckDue: true,
    lastFullCheck: 0,
    attempts: 0,
    lastCorrection: 0,
    dependsOn: [],
  };
}

export function reportOf(rt: BundleRuntime): DeploymentReport {
  const health = [...rt.health.values()];
  const r: DeploymentReport = {
    bundle: rt.bundle,
    digest: rt.digest,
    state: rt.state,
    counts: { total: rt.total, applied: rt.applied, ready: health.filter((h) => h.ready).length },
  };
  if (rt.message) r.message = rt.message.slice(0, 8192);
  const notReady = health.filter((h) => !h.ready).map((h) => ({ object: h.object, reason: h.reason }));
  if (notReady.length > 0) r.notReady = notReady.slice(0, 1000);
  const drift = health
    .flatMap((h) =>
      h.drift.map((d) => ({ object: h.object.slice(0, 600), ...d, path: d.path.slice(0, 1024) })),
    )
    .slice(0, maxDriftInReport);
  if (drift.length > 0) r.drift = drift;
  return r;
}
