// The cluster as the apply engine sees it. The real implementation speaks to a kube-apiserver
// (kube/client.ts); the fleet simulator provides another behind the same interface.

import type { KubeObject, ObjectRef } from '../../model/manifest.ts';

export interface ResourceInfo {
  /** plural resource name used in paths, e.g. "deployments" */
  name: string;
  namespaced: boolean;
}

export interface ApplyOptions {
  fieldManager: string;
  /** take over fields another manager owns (server-side apply "force") */
  force: boolean;
  /** validate and admit on the server without persisting */
  dryRun?: boolean;
}

export interface Cluster {
  /** discovery: what resource serves this kind, or undefined if the server serves no such kind */
  resourceOf(apiVersion: string, kind: string): Promise<ResourceInfo | undefined>;
  apply(obj: KubeObject, opts: ApplyOptions): Promise<KubeObject>;
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  /** false when the object was already gone */
  delete(ref: ObjectRef): Promise<boolean>;
}

/** An answer from the API server that is not success; the message is the server's own. */
export class ClusterError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly transient: boolean;

  constructor(message: string, status: number, reason = '') {
    super(message);
    this.name = 'ClusterError';
    this.status = status;
    this.reason = reason;
    this.transient = status === 0 || status === 429 || status >= 500;
  }
}
