// The CLI's view of the operator API: typed calls that turn the hub's error bodies back into
// OutpostErrors, so the CLI prints the same code, file and line the hub found.

import { type ErrorCode, OutpostError } from '../model/errors.ts';
import type {
  ApplyResult,
  AttentionItem,
  BundleFiles,
  BundleView,
  EventList,
  FleetStatus,
  QueryRequest,
  QueryResult,
  SiteDetail,
  SitePatch,
  SiteView,
} from '../model/wire.ts';
import { HttpClient, type JsonResponse, TransportError } from '../net/http-client.ts';

export class HubApi {
  readonly #http: HttpClient;
  readonly url: string;
  readonly #token: string | undefined;

  constructor(url: string, token: string | undefined) {
    this.url = url;
    this.#token = token;
    this.#http = new HttpClient(
      url,
      {},
      (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {}),
    );
  }

  async #call<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number | undefined>,
  ): Promise<T> {
    let res: JsonResponse;
    try {
      res = await this.#http.request(method, `/api/v1${path}`, { body, ...(query ? { query } : {}) });
    } catch (e) {
      if (e instanceof TransportError)
        throw new OutpostError('unavailable', `cannot reach the hub at ${this.url}: ${e.message}`);
      throw e;
    }
    if (res.status >= 200 && res.status < 300) return res.body as T;
    const err = (
      res.body as { error?: { code?: string; message?: string; file?: string; line?: number; site?: string } }
    )?.error;
    throw new OutpostError((err?.code as ErrorCode) ?? 'internal', err?.message ?? `HTTP ${res.status}`, {
      file: err?.file,
      line: err?.line,
      site: err?.site,
    });
  }

  sites = () => this.#call<{ items: SiteView[] }>('GET', '/sites').then((r) => r.items);
  site = (name: string) => this.#call<SiteDetail>('GET', `/sites/${encodeURIComponent(name)}`);
  patchSite = (name: string, patch: SitePatch) =>
    this.#call<SiteView>('PATCH', `/sites/${encodeURIComponent(name)}`, patch);
  applyBundle = (files: BundleFiles) => this.#call<ApplyResult>('POST', '/bundles/apply', files);
  bundles = () => this.#call<{ items: BundleView[] }>('GET', '/bundles').then((r) => r.items);
  deleteBundle = (name: string) => this.#call<void>('DELETE', `/bundles/${encodeURIComponent(name)}`);
  status = () => this.#call<FleetStatus>('GET', '/status');
  query = (q: QueryRequest) => this.#call<QueryResult>('POST', '/query', q);
  attention = (limit?: number) =>
    this.#call<{ items: AttentionItem[] }>('GET', '/attention', undefined, { limit }).then((r) => r.items);
  events = (q: { after?: number; limit?: number; site?: string; type?: string }) =>
    this.#call<EventList>('GET', '/events', undefined, q);

  /** Where the event stream is, with the headers it needs (see net/sse.ts followEvents). */
  eventStream(q: { site?: string; type?: string }): { url: URL; headers: Record<string, string> } {
    const url = new URL('/api/v1/events/stream', this.url);
    if (q.site) url.searchParams.set('site', q.site);
    if (q.type) url.searchParams.set('type', q.type);
    return { url, headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {} };
  }

  close(): void {
    this.#http.close();
  }
}
