// A thin Kubernetes REST client: discovery, server-side apply, get, delete. The manifests go to the API
// server exactly as written (no typed models in between that could drop fields the client doesn't know).

import type { KubeObject, ObjectRef } from '../../model/manifest.ts';
import { groupOf } from '../../model/manifest.ts';
import { HttpClient, type JsonResponse, TransportError } from '../../net/http-client.ts';
import { type ApplyOptions, type Cluster, ClusterError, type ResourceInfo } from '../apply/cluster.ts';
import type { KubeConnection } from './config.ts';

interface DiscoveryEntry {
  fetchedAt: number;
  resources: Map<string, ResourceInfo> | undefined;
}

/** Re-asking discovery about an unknown kind sooner than this only loads the server. */
const discoveryMissRetryMs = 1000;

export class KubeCluster implements Cluster {
  readonly #http: HttpClient;
  readonly #discovery = new Map<string, DiscoveryEntry>();

  constructor(conn: KubeConnection) {
    this.#http = new HttpClient(conn.server, conn.tls, (): Record<string, string> => {
      const token = conn.token?.();
      return token ? { authorization: `Bearer ${token}` } : {};
    });
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

  close(): void {
    this.#http.close();
  }

  async #pathOf(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string | undefined,
  ): Promise<string> {
    const info = await this.resourceOf(apiVersion, kind);
    if (!info) {
      throw new ClusterError(`no matches for kind "${kind}" in version "${apiVersion}"`, 404, 'NotFound');
    }
    const base = groupOf(apiVersion) === '' ? `/api/${apiVersion}` : `/apis/${apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : '';
    return `${base}${ns}/${info.name}/${encodeURIComponent(name ?? '')}`;
  }

  async #call(
    method: string,
    path: string,
    opts: Parameters<HttpClient['request']>[2] = {},
  ): Promise<JsonResponse> {
    try {
      return await this.#http.request(method, path, opts);
    } catch (e) {
      if (e instanceof TransportError) throw new ClusterError(e.message, 0, 'Transport');
      throw e;
    }
  }
}

function errorOf(res: JsonResponse, what: string): ClusterError {
  const status = res.body as { message?: string; reason?: string } | string;
  const message =
    typeof status === 'object' && status?.message ? status.message : `${what}: HTTP ${res.status}`;
  return new ClusterError(message, res.status, typeof status === 'object' ? (status.reason ?? '') : '');
}
