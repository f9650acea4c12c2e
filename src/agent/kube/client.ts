// A thin Kubernetes REST client: discovery, server-side apply, get, delete, list and watch. The manifests
// go to the API server exactly as written (no typed models in between that could drop fields the client
// doesn't know). Transient failures (refused, reset, timed out, 429, 5xx) are retried a few times with
// jittered backoff before the caller sees them.

import { StringDecoder } from 'node:string_decoder';
import { backoffDelay, sleep } from '../../base/timing.ts';
import type { KubeObject, ObjectRef } from '../../model/manifest.ts';
import { groupOf } from '../../model/manifest.ts';
import { HttpClient, type JsonResponse, TransportError } from '../../net/http-client.ts';
import {
  type ApplyOptions,
  type Cluster,
  ClusterError,
  type ListOptions,
  type ObjectList,
  type ObjectType,
  type PodLogOptions,
  type ResourceInfo,
  type WatchEvent,
  type WatchOptions,
} from '../apply/cluster.ts';
import type { KubeConnection } from './config.ts';

interface DiscoveryEntry {
  fetchedAt: number;
  resources: Map<string, ResourceInfo> | undefined;
}

export interface KubeClusterOptions {
  /** extra attempts after a transient failure, before the caller sees it */
  retries?: number;
  /** first retry delay; doubles, jittered, up to 4 s */
  retryBaseMs?: number;
  /** objects per page when listing; big lists come in pages so no single response is huge */
  listPageSize?: number;
}

/** Re-asking discovery about an unknown kind sooner than this only loads the server. */
const discoveryMissRetryMs = 1000;
/** Longest wait a 429's Retry-After may impose on one request. */
const maxRetryAfterMs = 10_000;

export class KubeCluster implements Cluster {
  readonly #http: HttpClient;
  /** Watches hold a connection each for minutes; they get their own pool so applies never queue behind them. */
  readonly #watchHttp: HttpClient;
  readonly #discovery = new Map<string, DiscoveryEntry>();
  readonly #retries: number;
  readonly #retryBaseMs: number;
  #retried = 0;
  readonly #listPageSize: number;

  constructor(conn: KubeConnection, opts: KubeClusterOptions = {}) {
    const auth = (): Record<string, string> => {
      const token = conn.token?.();
      return token ? { authorization: `Bearer ${token}` } : {};
    };
    this.#http = new HttpClient(conn.server, conn.tls, auth);
    this.#watchHttp = new HttpClient(conn.server, conn.tls, auth, Number.POSITIVE_INFINITY);
    this.#retries = opts.retries ?? 3;
    this.#retryBaseMs = opts.retryBaseMs ?? 250;
    this.#listPageSize = opts.listPageSize ?? 500;
  }

  async version(): Promise<string | undefined> {
    const res = await this.#call('GET', '/version');
    return res.status === 200 ? (res.body as { gitVersion?: string }).gitVersion : undefined;
  }

  async resourceOf(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    const cached = this.#discovery.get(apiVersion);
    const hit = cached?.resources?.get(kind);
    if (hit) return hit;
    if (cached && Date.now() - cached.fetchedAt < discoveryMissRetryMs) return undefined;
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const res = await this.#call('GET', path);
    let resources: Map<string, ResourceInfo> | undefined;
    if (res.status === 200) {
      resources = new Map();
      const list =
        (res.body as { resources?: Array<{ name: string; kind: string; namespaced: boolean }> }).resources ??
        [];
      for (const r of list)
        if (!r.name.includes('/')) resources.set(r.kind, { name: r.name, namespaced: r.namespaced });
    } else if (res.status !== 404) {
      throw errorOf(res, `discovery of ${apiVersion}`);
    }
    this.#discovery.set(apiVersion, { fetchedAt: Date.now(), resources });
    return resources?.get(kind);
  }

  async apply(obj: KubeObject, opts: ApplyOptions): Promise<KubeObject> {
    const path = await this.#pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    const res = await this.#call('PATCH', path, {
      body: obj,
      // JSON is YAML, so an apply patch may be sent as JSON under the apply-patch content type
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: opts.fieldManager,
        force: opts.force ? true : undefined,
        dryRun: opts.dryRun ? 'All' : undefined,
      },
    });
    if (res.status === 200 || res.status === 201) return res.body as KubeObject;
    throw errorOf(res, `apply ${obj.kind} ${obj.metadata.name}`);
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const res = await this.#call(
      'GET',
      await this.#pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name),
    );
    if (res.status === 200) return res.body as KubeObject;
    if (res.status === 404) return undefined;
    throw errorOf(res, `get ${ref.kind} ${ref.name}`);
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    const path = await this.#pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name);
    const res = await this.#call('DELETE', path, { query: { propagationPolicy: 'Background' } });
    if (res.status === 200 || res.status === 202) return true;
    if (res.status === 404) return false;
    throw errorOf(res, `delete ${ref.kind} ${ref.name}`);
  }

  async patchMetadata(
    ref: ObjectRef,
    metadata: Record<string, unknown>,
    fieldManager: string,
  ): Promise<boolean> {
    return this.mergePatch(ref, { metadata }, fieldManager);
  }

  async mergePatch(ref: ObjectRef, patch: Record<string, unknown>, fieldManager: string): Promise<boolean> {
    const path = await this.#pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name);
    const res = await this.#call('PATCH', path, {
      body: patch,
      contentType: 'application/merge-patch+json',
      query: { fieldManager },
    });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw errorOf(res, `patch ${ref.kind} ${ref.name}`);
  }

  async podLogs(namespace: string, pod: string, opts: PodLogOptions): Promise<string> {
    const res = await this.#call('GET', podLogPath(namespace, pod), { raw: true, query: podLogQuery(opts) });
    if (res.status === 200) return res.body as string;
    // a pod not yet on a node has no log to serve: the apiserver says so with No Content
    if (res.status === 204) return '';
    throw errorOf(
      typeof res.body === 'string' ? { ...res, body: parsedOrText(res.body) } : res,
      `logs of pod ${pod}`,
    );
  }

  async *followPodLogs(
    namespace: string,
    pod: string,
    opts: PodLogOptions,
    signal: AbortSignal,
  ): AsyncIterable<string> {
    let res: Awaited<ReturnType<HttpClient['stream']>>;
    try {
      res = await this.#watchHttp.stream(podLogPath(namespace, pod), {
        query: { ...podLogQuery(opts), follow: 'true' },
        // a container may write nothing for long: the session's own time limit ends it, not silence
        idleTimeoutMs: 0,
        signal,
      });
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof TransportError) throw new ClusterError(e.message, 0, 'Transport');
      throw e;
    }
    if (res.error?.status === 204) return;
    if (res.error) throw errorOf(res.error, `logs of pod ${pod}`);
    const decoder = new StringDecoder('utf8');
    try {
      for await (const chunk of res.body) {
        const text = decoder.write(chunk);
        if (text) yield text;
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof TransportError) throw new ClusterError(e.message, 0, 'Transport');
      throw e;
    }
  }

  async list(type: ObjectType, opts: ListOptions): Promise<ObjectList> {
    const path = await this.#collectionPath(type);
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    do {
      const res = await this.#call('GET', path, {
        query: { labelSelector: opts.labelSelector, limit: this.#listPageSize, continue: next },
        signal: opts.signal,
      });
      if (res.status !== 200) throw errorOf(res, `list ${type.kind}`);
      const body = res.body as {
        items?: KubeObject[];
        metadata?: { resourceVersion?: string; continue?: string };
      };
      // items of a list carry no apiVersion and kind of their own
      for (const item of body.items ?? [])
        items.push({ ...item, apiVersion: type.apiVersion, kind: type.kind });
      resourceVersion = body.metadata?.resourceVersion ?? resourceVersion;
      next = body.metadata?.continue || undefined;
    } while (next);
    return { items, resourceVersion };
  }

  async *watch(type: ObjectType, opts: WatchOptions): AsyncIterable<WatchEvent> {
    const path = await this.#collectionPath(type);
    let res: Awaited<ReturnType<HttpClient['stream']>>;
    try {
      res = await this.#watchHttp.stream(path, {
        query: {
          watch: 1,
          allowWatchBookmarks: true,
          resourceVersion: opts.resourceVersion,
          timeoutSeconds: opts.timeoutSeconds,
          labelSelector: opts.labelSelector,
        },
        idleTimeoutMs: opts.idleTimeoutMs,
        signal: opts.signal,
      });
    } catch (e) {
      if (e instanceof TransportError) throw new ClusterError(e.message, 0, 'Transport');
      throw e;
    }
    if (res.error) throw errorOf(res.error, `watch ${type.kind}`);
    const decoder = new StringDecoder('utf8');
    let pending = '';
    try {
      for await (const chunk of res.body) {
        pending += decoder.write(chunk);
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line) yield eventOf(line);
        }
      }
    } catch (e) {
      if (e instanceof TransportError) throw new ClusterError(e.message, 0, 'Transport');
      throw e;
    }
  }

  close(): void {
    this.#http.close();
    this.#watchHttp.close();
  }

  async #info(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const info = await this.resourceOf(apiVersion, kind);
    if (!info) {
      throw new ClusterError(`no matches for kind "${kind}" in version "${apiVersion}"`, 404, 'NotFound');
    }
    return info;
  }

  async #collectionPath(type: ObjectType): Promise<string> {
    const info = await this.#info(type.apiVersion, type.kind);
    const base = groupOf(type.apiVersion) === '' ? `/api/${type.apiVersion}` : `/apis/${type.apiVersion}`;
    return `${base}/${info.name}`;
  }

  async #pathOf(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string | undefined,
  ): Promise<string> {
    const info = await this.#info(apiVersion, kind);
    const base = groupOf(apiVersion) === '' ? `/api/${apiVersion}` : `/apis/${apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : '';
    return `${base}${ns}/${info.name}/${encodeURIComponent(name ?? '')}`;
  }

  /** How many requests were retried after a transient failure since this client was made. */
  get retried(): number {
    return this.#retried;
  }

  /**
   * One request, retried while the failure is transient and attempts remain. An abort of `opts.signal`
   * ends it at once, in the request or between retries, with the signal's reason.
   */
  async #call(
    method: string,
    path: string,
    opts: Parameters<HttpClient['request']>[2] = {},
  ): Promise<JsonResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: JsonResponse | undefined;
      let failure: ClusterError | undefined;
      try {
        res = await this.#http.request(method, path, opts);
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
        failure = new ClusterError(e.message, 0, 'Transport');
      }
      const transient = failure !== undefined || res!.status === 429 || res!.status >= 500;
      if (!transient || attempt >= this.#retries) {
        if (failure) throw failure;
        return res!;
      }
      this.#retried++;
      const retryAfter = Number(res?.headers['retry-after']);
      const delay =
        res?.status === 429 && Number.isFinite(retryAfter) && retryAfter > 0
          ? Math.min(retryAfter * 1000, maxRetryAfterMs)
          : backoffDelay(attempt, this.#retryBaseMs, 4000);
      await sleep(delay, opts.signal);
      opts.signal?.throwIfAborted();
    }
  }
}

function eventOf(line: string): WatchEvent {
  const event = JSON.parse(line) as { type: string; object: KubeObject & Record<string, unknown> };
  if (event.type === 'ERROR') {
    // the watch itself failed, e.g. 410 Expired when the version asked for is gone from the server
    const status = event.object as { message?: string; code?: number; reason?: string };
    throw new ClusterError(status.message ?? 'watch failed', status.code ?? 500, status.reason ?? '');
  }
  return event as WatchEvent;
}

/** A raw answer's body as the Status object it usually is, else as it came. */
function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorOf(res: JsonResponse, what: string): ClusterError {
  const status = res.body as { message?: string; reason?: string } | string;
  const message =
    typeof status === 'object' && status?.message ? status.message : `${what}: HTTP ${res.status}`;
  return new ClusterError(message, res.status, typeof status === 'object' ? (status.reason ?? '') : '');
}

function podLogPath(namespace: string, pod: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`;
}

function podLogQuery(opts: PodLogOptions): Record<string, string | number | undefined> {
  return {
    container: opts.container,
    sinceSeconds: opts.sinceSeconds,
    tailLines: opts.tailLines,
    limitBytes: opts.limitBytes,
    previous: opts.previous ? 'true' : undefined,
  };
}
