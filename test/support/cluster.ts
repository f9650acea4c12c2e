// Test doubles around the real cluster client: every call still reaches the real kube-apiserver; a test
// only watches calls go by, or acts in between (slows them, restarts the server mid-apply).

import type { Cluster } from '../../src/agent/apply/cluster.ts';

/** A Cluster that delegates to `base` except for the methods given. */
export function aroundCluster(base: Cluster, overrides: Partial<Cluster>): Cluster {
  return {
    resourceOf: (apiVersion, kind) => base.resourceOf(apiVersion, kind),
    apply: (obj, opts) => base.apply(obj, opts),
    get: (ref) => base.get(ref),
    delete: (ref) => base.delete(ref),
    patchMetadata: (ref, metadata, fieldManager) => base.patchMetadata(ref, metadata, fieldManager),
    list: (type, opts) => base.list(type, opts),
    watch: (type, opts) => base.watch(type, opts),
    ...(base.mergePatch ? { mergePatch: base.mergePatch.bind(base) } : {}),
    ...(base.podLogs ? { podLogs: base.podLogs.bind(base) } : {}),
    ...(base.followPodLogs ? { followPodLogs: base.followPodLogs.bind(base) } : {}),
    ...overrides,
  };
}
