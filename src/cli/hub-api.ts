// The CLI's view of the operator API: typed calls that turn the hub's error bodies back into
// OutpostErrors, so the CLI prints the same code, file and line the hub found.

import type { Static } from 'typebox';
import type { RoleBinding } from '../model/access.ts';
import { type ErrorCode, OutpostError } from '../model/errors.ts';
import type * as fleetWire from '../model/fleet-wire.ts';
import type * as ops from '../model/operations.ts';
import type * as profileWire from '../model/profile-wire.ts';
import type * as relayWire from '../model/relay-wire.ts';
import type { SealingKeys, SealingKeysQuery } from '../model/sealing-wire.ts';
import type { SiteSlis, SloDetail, SloSpec, SloView } from '../model/slo-wire.ts';
import type * as tunnel from '../model/tunnel.ts';
import type * as wire from '../model/wire.ts';
import { HttpClient, type JsonResponse, TransportError } from '../net/http-client.ts';

export class HubApi {
  readonly #http: HttpClient;
  readonly url: string;
  readonly #token: string | undefined;
  readonly #caPem: string | undefined;

  /** `caPem` is the hub's CA (the hub writes it to DATA_DIR/ca.crt); without it the system's CAs are used. */
  constructor(url: string, token: string | undefined, caPem?: string) {
    this.url = url;
    this.#token = token;
    this.#caPem = caPem;
    this.#http = new HttpClient(
      url,
      { ca: caPem },
      (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {}),
    );
  }

  async #call<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number | undefined>,
    contentType?: string,
  ): Promise<T> {
    let res: JsonResponse;
    try {
      res = await this.#http.request(method, `/api/v1${path}`, {
        body,
        ...(query ? { query } : {}),
        ...(contentType ? { contentType, timeoutMs: 600_000 } : {}),
      });
    } catch (e) {
      if (e instanceof TransportError) {
        const hint = /certificate|self.signed|issuer/i.test(e.message)
          ? ' (give the hub CA with --ca-file or OUTPOST_CA_FILE)'
          : '';
        throw new OutpostError('unavailable', `cannot reach the hub at ${this.url}: ${e.message}${hint}`);
      }
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

  sites = () => this.#call<{ items: wire.SiteView[] }>('GET', '/sites').then((r) => r.items);
  site = (name: string) => this.#call<wire.SiteDetail>('GET', `/sites/${encodeURIComponent(name)}`);
  patchSite = (name: string, patch: wire.SitePatch) =>
    this.#call<wire.SiteView>('PATCH', `/sites/${encodeURIComponent(name)}`, patch);
  applyBundle = (files: wire.BundleFiles) => this.#call<wire.ApplyResult>('POST', '/bundles/apply', files);
  bundles = () => this.#call<{ items: wire.BundleView[] }>('GET', '/bundles').then((r) => r.items);
  agentReleases = () =>
    this.#call<{ items: wire.AgentReleaseView[] }>('GET', '/agent-releases').then((r) => r.items);
  agentRelease = (version: string) =>
    this.#call<wire.AgentReleaseView>('GET', `/agent-releases/${encodeURIComponent(version)}`);
  /** Sends a release tarball with the facts its signature covers. */
  pushAgentRelease = (
    version: string,
    signed: { digest: string; signature: string; image?: string },
    tarball: Buffer,
  ) =>
    this.#call<wire.AgentReleaseView>(
      'PUT',
      `/agent-releases/${encodeURIComponent(version)}`,
      tarball,
      { digest: signed.digest, signature: signed.signature, image: signed.image },
      'application/octet-stream',
    );
  deleteBundle = (name: string) => this.#call<void>('DELETE', `/bundles/${encodeURIComponent(name)}`);
  rollouts = (bundle?: string) =>
    this.#call<{ items: wire.RolloutView[] }>('GET', '/rollouts', undefined, { bundle }).then((r) => r.items);
  rollout = (id: string) => this.#call<wire.RolloutDetail>('GET', `/rollouts/${encodeURIComponent(id)}`);
  startRollout = (body: { bundle: string; strategy?: Record<string, unknown>; supersede?: boolean }) =>
    this.#call<wire.RolloutDetail>('POST', '/rollouts', body);
  strategies = () =>
    this.#call<{ items: wire.StrategyView[] }>('GET', '/rollout-strategies').then((r) => r.items);
  applyStrategy = (body: wire.StrategyRequest) =>
    this.#call<wire.StrategyView>('POST', '/rollout-strategies', body);
  deleteStrategy = (name: string) =>
    this.#call<void>('DELETE', `/rollout-strategies/${encodeURIComponent(name)}`);
  rolloutAction = (id: string, action: wire.RolloutAction) =>
    this.#call<wire.RolloutDetail>('POST', `/rollouts/${encodeURIComponent(id)}/actions`, { action });
  status = () => this.#call<wire.FleetStatus>('GET', '/status');
  requestAction = (site: string, req: ops.ActionRequest) =>
    this.#call<ops.OperationView>('POST', `/sites/${encodeURIComponent(site)}/actions`, req);
  requestLogs = (site: string, req: ops.LogRequest) =>
    this.#call<ops.OperationView>('POST', `/sites/${encodeURIComponent(site)}/logs`, req);
  siteOperations = (site: string) =>
    this.#call<{ items: ops.OperationView[] }>('GET', `/sites/${encodeURIComponent(site)}/operations`).then(
      (r) => r.items,
    );
  openTunnel = (site: string, req: tunnel.TunnelRequest) =>
    this.#call<tunnel.TunnelSessionView>('POST', `/sites/${encodeURIComponent(site)}/tunnel`, req);
  operation = (id: string) => this.#call<ops.OperationView>('GET', `/operations/${encodeURIComponent(id)}`);
  operationLogs = (id: string, after = 0) =>
    this.#call<ops.LogPage>('GET', `/operations/${encodeURIComponent(id)}/logs`, undefined, { after });
  cancelOperation = (id: string) =>
    this.#call<ops.OperationView>('DELETE', `/operations/${encodeURIComponent(id)}`);
  approve = (name: string, change: Static<typeof wire.ApproveRequest>) =>
    this.#call<wire.SiteView>('POST', `/sites/${encodeURIComponent(name)}/approve`, change);
  reject = (name: string) => this.#call<void>('POST', `/sites/${encodeURIComponent(name)}/reject`);
  decommission = (name: string) =>
    this.#call<wire.SiteView>('POST', `/sites/${encodeURIComponent(name)}/decommission`);
  createBootstrapToken = (spec: Static<typeof wire.BootstrapTokenRequest>) =>
    this.#call<Static<typeof wire.BootstrapTokenCreated>>('POST', '/bootstrap-tokens', spec);
  bootstrapTokens = () =>
    this.#call<{ items: Static<typeof wire.BootstrapTokenView>[] }>('GET', '/bootstrap-tokens').then(
      (r) => r.items,
    );
  createRelay = (spec: relayWire.RelayCreateRequest) =>
    this.#call<Static<typeof relayWire.RelayCreated>>('POST', '/relays', spec);
  relays = () => this.#call<{ items: relayWire.RelayView[] }>('GET', '/relays').then((r) => r.items);
  relay = (name: string) => this.#call<relayWire.RelayDetail>('GET', `/relays/${encodeURIComponent(name)}`);
  revokeRelay = (name: string) => this.#call<void>('DELETE', `/relays/${encodeURIComponent(name)}`);
  revokeBootstrapToken = (id: string) =>
    this.#call<void>('DELETE', `/bootstrap-tokens/${encodeURIComponent(id)}`);
  createApiToken = (name: string, role: string, bindings?: RoleBinding[]) =>
    this.#call<Static<typeof wire.ApiTokenCreated>>('POST', '/api-tokens', {
      name,
      role,
      ...(bindings ? { bindings } : {}),
    });
  apiTokens = () =>
    this.#call<{ items: Static<typeof wire.ApiTokenView>[] }>('GET', '/api-tokens').then((r) => r.items);
  revokeApiToken = (id: string) => this.#call<void>('DELETE', `/api-tokens/${encodeURIComponent(id)}`);
  addSource = (req: fleetWire.SourceRequest) => this.#call<fleetWire.SourceCreated>('POST', '/sources', req);
  sources = () => this.#call<{ items: fleetWire.SourceView[] }>('GET', '/sources').then((r) => r.items);
  source = (name: string) => this.#call<fleetWire.SourceView>('GET', `/sources/${encodeURIComponent(name)}`);
  deleteSource = (name: string) => this.#call<void>('DELETE', `/sources/${encodeURIComponent(name)}`);
  syncSource = (name: string, force = false) =>
    this.#call<fleetWire.SyncResult>(
      'POST',
      `/sources/${encodeURIComponent(name)}/sync${force ? '?force=true' : ''}`,
    );
  plan = (req: fleetWire.PlanRequest) => this.#call<fleetWire.PlanResult>('POST', '/plan', req);
  explain = (bundle: string, site: string) =>
    this.#call<fleetWire.Explanation>(
      'GET',
      `/bundles/${encodeURIComponent(bundle)}/explain?site=${encodeURIComponent(site)}`,
    );
  audit = (limit = 100) =>
    this.#call<{ items: Static<typeof wire.AuditEntry>[] }>('GET', `/audit?limit=${limit}`).then(
      (r) => r.items,
    );
  query = (q: wire.QueryRequest) => this.#call<wire.QueryResult>('POST', '/query', q);
  attention = (limit?: number) =>
    this.#call<{ items: wire.AttentionItem[] }>('GET', '/attention', undefined, { limit }).then(
      (r) => r.items,
    );
  events = (q: { after?: number; limit?: number; site?: string; type?: string }) =>
    this.#call<wire.EventList>('GET', '/events', undefined, q);
  slos = () => this.#call<{ items: SloView[] }>('GET', '/slos').then((r) => r.items);
  slo = (name: string) => this.#call<SloDetail>('GET', `/slos/${encodeURIComponent(name)}`);
  applySlo = (spec: SloSpec) => this.#call<SloView>('POST', '/slos', spec);
  deleteSlo = (name: string) => this.#call<void>('DELETE', `/slos/${encodeURIComponent(name)}`);
  profiles = () => this.#call<{ items: profileWire.ProfileView[] }>('GET', '/profiles').then((r) => r.items);
  profile = (name: string) =>
    this.#call<profileWire.ProfileDetail>('GET', `/profiles/${encodeURIComponent(name)}`);
  profileConformance = (name: string) =>
    this.#call<profileWire.ProfileConformance>('GET', `/profiles/${encodeURIComponent(name)}/conformance`);
  siteStack = (name: string) =>
    this.#call<profileWire.SiteStackView>('GET', `/sites/${encodeURIComponent(name)}/stack`);
  applyProfiles = (body: wire.BundleFiles) =>
    this.#call<profileWire.ProfileApplyResult>('POST', '/profiles', body).then((r) => r.items);
  profileRollouts = (profile?: string) =>
    this.#call<{ items: profileWire.ProfileRolloutView[] }>('GET', '/profile-rollouts', undefined, {
      profile,
    }).then((r) => r.items);
  profileRollout = (id: string) =>
    this.#call<profileWire.ProfileRolloutDetail>('GET', `/profile-rollouts/${encodeURIComponent(id)}`);
  profileRolloutAction = (id: string, action: wire.RolloutAction, reason?: string) =>
    this.#call<profileWire.ProfileRolloutDetail>(
      'POST',
      `/profile-rollouts/${encodeURIComponent(id)}/actions`,
      reason === undefined ? { action } : { action, reason },
    );
  sealingKeys = (q: SealingKeysQuery) => {
    const params = new URLSearchParams();
    if (q.bundle !== undefined) params.set('bundle', q.bundle);
    for (const site of q.site ?? []) params.append('site', site);
    return this.#call<SealingKeys>('GET', `/sealing-keys?${params}`);
  };
  siteSlis = (name: string, since?: string) =>
    this.#call<SiteSlis>('GET', `/sites/${encodeURIComponent(name)}/slis`, undefined, { since });

  /** Where the event stream is, with the headers it needs (see net/follow-events.ts). */
  eventStream(q: { site?: string; type?: string }): {
    url: URL;
    headers: Record<string, string>;
    ca: string | undefined;
  } {
    const url = new URL('/api/v1/events/stream', this.url);
    if (q.site) url.searchParams.set('site', q.site);
    if (q.type) url.searchParams.set('type', q.type);
    return { url, headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {}, ca: this.#caPem };
  }

  /** Where a log request's stream is (`logs --follow`), with the headers it needs. */
  logStream(id: string): { url: URL; headers: Record<string, string>; ca: string | undefined } {
    const url = new URL(`/api/v1/operations/${encodeURIComponent(id)}/logs/stream`, this.url);
    return { url, headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {}, ca: this.#caPem };
  }

  close(): void {
    this.#http.close();
  }
}
