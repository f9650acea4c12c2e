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

/** One kind of object, as list and watch address it. */
export interface ObjectType {
  apiVersion: string;
  kind: string;
}

export interface ListOptions {
  /** a Kubernetes label selector, e.g. "outpost.dev/bundle" (has the label) */
  labelSelector?: string;
  /** ends the call early, retries included (shutdown need not wait out a backoff) */
  signal?: AbortSignal;
}

export interface ObjectList {
  items: KubeObject[];
  /** where a watch picks up so that nothing between the list and the watch is missed */
  resourceVersion: string;
}

export interface WatchOptions extends ListOptions {
  resourceVersion: string;
  /** the server ends the watch after this long; the caller watches again from the last version */
  timeoutSeconds: number;
  /** a watch silent for this long is cut as a dead connection (bookmarks keep a healthy one talking) */
  idleTimeoutMs: number;
  signal: AbortSignal;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: KubeObject;
}

/** What to read of one container's log (the Kubernetes log API's own limits). */
export interface PodLogOptions {
  container?: string;
  sinceSeconds?: number;
  tailLines?: number;
  /** the server stops after this many bytes */
  limitBytes?: number;
  previous?: boolean;
}

export interface Cluster {
  /** discovery: what resource serves this kind, or undefined if the server serves no such kind */
  resourceOf(apiVersion: string, kind: string): Promise<ResourceInfo | undefined>;
  /** the server's version (e.g. v1.33.13), for the facts a site registers with; optional */
  version?(): Promise<string | undefined>;
  apply(obj: KubeObject, opts: ApplyOptions): Promise<KubeObject>;
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  /** false when the object was already gone */
  delete(ref: ObjectRef): Promise<boolean>;
  /** merge-patches an object's metadata (e.g. to drop labels); false when the object is gone */
  patchMetadata(ref: ObjectRef, metadata: Record<string, unknown>, fieldManager: string): Promise<boolean>;
  /** merge-patches an object (remote actions: a rolling restart); false when the object is gone */
  mergePatch?(ref: ObjectRef, patch: Record<string, unknown>, fieldManager: string): Promise<boolean>;
  /** a pod's container log as text (logs on demand); throws ClusterError with the server's reason */
  podLogs?(namespace: string, pod: string, opts: PodLogOptions): Promise<string>;
  /**
   * A pod's container log as it is written (follow), text as it arrives, until the container stops,
   * limitBytes is reached or `signal` aborts; throws ClusterError with the server's reason
   */
  followPodLogs?(
    namespace: string,
    pod: string,
    opts: PodLogOptions,
    signal: AbortSignal,
  ): AsyncIterable<string>;
  /** every object of a kind in every namespace */
  list(type: ObjectType, opts: ListOptions): Promise<ObjectList>;
  /**
   * Changes to a kind from a resource version on, bookmarks included. Ends when the server ends the
   * watch; throws ClusterError 410 when that version is too old (list again), ClusterError otherwise.
   */
  watch(type: ObjectType, opts: WatchOptions): AsyncIterable<WatchEvent>;
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
