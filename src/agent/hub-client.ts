// The agent's side of the agent API: pin the hub's CA from the join token, register, collect or renew
// the certificate, long-poll the desired state by ETag, fetch blobs by digest, send reports. Every
// call is outbound; after registration every call is mTLS. Errors say whether retrying can help.
// The site's own calls go to its regional relays first, in order, and to the hub when none answers; a
// desired state a relay serves must carry the hub's signature, so a relay can withhold but not change it.

import type { Duplex } from 'node:stream';
import {
  type LogChunk,
  type LogChunkAck,
  type OperationResult,
  type SiteOperation,
  workHeader,
} from '../model/operations.ts';
import type { SealingKeyAck } from '../model/sealing-wire.ts';
import type { TelemetryAck } from '../model/telemetry.ts';
import { tunnelUpgrade } from '../model/tunnel.ts';
import type {
  CertificateResponse,
  DesiredState,
  RegisterRequest,
  RegisterResponse,
  Report,
} from '../model/wire.ts';
import { HttpClient, type JsonResponse, type RequestOptions, TransportError } from '../net/http-client.ts';
import { fingerprintSha256 } from '../pki/certificate.ts';
import { desiredBatchSignatureValid, desiredSignatureValid } from '../pki/desired-signature.ts';
import { desiredDigest } from '../render/rendered.ts';

export class HubError extends Error {
  readonly status: number;
  readonly code: string;
  readonly transient: boolean;

  constructor(message: string, status: number, code: string) {
    super(message);
    this.name = 'HubError';
    this.status = status;
    this.code = code;
    this.transient = status === 0 || status === 429 || status >= 500;
  }
}

function hubError(res: JsonResponse, what: string): HubError {
  let body = res.body as { error?: { code?: string; message?: string } } | string;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: keep the status alone
    }
  }
  const err = typeof body === 'object' ? body?.error : undefined;
  return new HubError(`${what}: ${err?.message ?? `HTTP ${res.status}`}`, res.status, err?.code ?? 'unknown');
}

export interface ClientIdentity {
  certPem: string;
  keyPem: string;
}

/** Fetches the hub's CA certificate and accepts it only if it matches the pinned fingerprint. */
export async function fetchPinnedCa(hub: string, caSha256: string): Promise<string> {
  // The CA is not trusted yet, so this one call cannot verify the server; the pin verifies the answer.
  const http = new HttpClient(hub, { insecure: true });
  try {
    const res = await http.request('GET', '/agent/v1/ca', { raw: true });
    if (res.status !== 200) throw hubError(res, 'hub CA');
    const pem = res.body as string;
    const got = fingerprintSha256(pem);
    if (got !== caSha256) {
      throw new HubError(
        `the hub's CA (sha256 ${got}) is not the one the join token names (${caSha256})`,
        495,
        'ca_mismatch',
      );
    }
    return pem;
  } finally {
    http.close();
  }
}

/** Where the site's own calls go: its relays first, the hub when none answers. */
export interface SiteRouting {
  relays?: readonly string[];
  /** how long the site stays on a fallback before it tries its first relay again (default 60 s) */
  relayRetryMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** One place the site's own calls can go: a relay, or the hub itself (last). */
interface Endpoint {
  url: string;
  relay: boolean;
  http: HttpClient;
}

/** How long the agent stays on a fallback before it tries its first relay again, by default. */
const defaultRelayRetryMs = 60_000;

/** A desired-state poll's answer, and whether operations wait for the agent to pick them up. */
export interface DesiredAnswer {
  desired: DesiredState | 'unchanged';
  work: boolean;
}

export class HubClient {
  readonly hub: string;
  readonly #caPem: string;
  readonly #relays: readonly string[];
  #http: HttpClient;
  #endpoints: Endpoint[];
  #current = 0;
  #fellBackAt = 0;
  #siteId: string | undefined;
  readonly #relayRetryMs: number;
  readonly #log: SiteRouting['log'];

  /** `routing.relays` are tried first, in order, for the site's own calls; the hub answers when none does. */
  constructor(
    hub: string,
    caPem: string,
    identity?: ClientIdentity,
    siteId?: string,
    routing: SiteRouting = {},
  ) {
    this.hub = hub;
    this.#relayRetryMs = routing.relayRetryMs ?? defaultRelayRetryMs;
    this.#log = routing.log;
    this.#caPem = caPem;
    this.#siteId = siteId;
    this.#relays = routing.relays ?? [];
    this.#http = new HttpClient(hub, { ca: caPem, cert: identity?.certPem, key: identity?.keyPem });
    this.#endpoints = this.#endpointsFor(identity);
  }

  #endpointsFor(identity: ClientIdentity | undefined): Endpoint[] {
    const tls = { ca: this.#caPem, cert: identity?.certPem, key: identity?.keyPem };
    return [
      ...this.#relays.map((url) => ({ url, relay: true, http: new HttpClient(url, tls) })),
      { url: this.hub, relay: false, http: this.#http },
    ];
  }

  /** Switches to a new certificate; requests already under way finish on the old connections. */
  setIdentity(identity: ClientIdentity, siteId: string): void {
    const old = this.#endpoints;
    this.#http = new HttpClient(this.hub, { ca: this.#caPem, cert: identity.certPem, key: identity.keyPem });
    this.#endpoints = this.#endpointsFor(identity);
    this.#siteId = siteId;
    setTimeout(() => {
      for (const e of old) e.http.close();
    }, 120_000).unref();
  }

  /** Where the site's own calls go now: a relay's URL, or the hub's. */
  get serving(): string {
    return this.#endpoints[this.#current]!.url;
  }

  #site(): string {
    if (!this.#siteId) throw new Error('the agent has no site identity yet');
    return encodeURIComponent(this.#siteId);
  }

  /**
   * A site call at the current endpoint; a relay that does not answer, refuses the site or answers with
   * something `usable` rejects is left for the next endpoint (the hub last), tried once each in turn.
   */
  async #siteCall(
    method: string,
    path: string,
    opts: RequestOptions,
    usable: (res: JsonResponse) => string | undefined = () => undefined,
  ): Promise<JsonResponse> {
    const endpoints = this.#endpoints;
    if (this.#current !== 0 && Date.now() - this.#fellBackAt >= this.#relayRetryMs) this.#current = 0;
    let last: unknown;
    for (let tried = 0; tried < endpoints.length; tried++) {
      const at = this.#current;
      const endpoint = endpoints[at]!;
      let problem: string | undefined;
      try {
        const res = await endpoint.http.request(method, path, opts);
        // a relay that cannot serve this site (not in its scope, nothing cached yet, down behind a proxy)
        // is not the site's problem: the next endpoint may answer
        const refused = res.status === 401 || res.status === 403 || res.status === 404 || res.status >= 500;
        problem = endpoint.relay && refused ? `HTTP ${res.status}` : endpoint.relay ? usable(res) : undefined;
        if (!problem) return res;
        last = hubError(res, `${method} ${path} via relay ${endpoint.url}`);
      } catch (e) {
        if (opts.signal?.aborted || !(e instanceof TransportError) || endpoints.length === 1) throw e;
        last = e;
      }
      this.#current = (at + 1) % endpoints.length;
      this.#fellBackAt = Date.now();
      this.#log?.('a relay did not serve this site; trying the next', {
        relay: endpoint.url,
        next: endpoints[this.#current]!.url,
        error: last instanceof Error ? last.message : String(last),
      });
    }
    throw last;
  }

  /** Why a relay's desired state cannot be trusted, or undefined when the hub signed it for this site. */
  #unsigned(res: JsonResponse): string | undefined {
    if (res.status !== 200) return undefined;
    const state = res.body as DesiredState;
    if (!state.signature) return 'the desired state carries no hub signature';
    if (desiredDigest(state.deployments, state.stack) !== state.digest)
      return 'the desired state does not match its digest';
    // v2: the proof leads from this site's own (id, digest) leaf to the root the hub signed once for the
    // relay's answer, so a state the hub made for another site is refused; v1 (older hubs): this site alone
    const valid = state.proof
      ? desiredBatchSignatureValid(this.#caPem, this.#siteId!, state.digest, state.proof, state.signature)
      : desiredSignatureValid(this.#caPem, this.#siteId!, state.digest, state.signature);
    if (!valid) return 'the desired state’s hub signature is not valid';
    return undefined;
  }

  async register(req: RegisterRequest): Promise<RegisterResponse> {
    const res = await this.#http.request('POST', '/agent/v1/register', { body: req });
    if (res.status !== 200) throw hubError(res, 'register');
    return res.body as RegisterResponse;
  }

  async collectCertificate(siteId: string, ticket: string): Promise<CertificateResponse> {
    const res = await this.#http.request(
      'POST',
      `/agent/v1/sites/${encodeURIComponent(siteId)}/certificate`,
      { body: { ticket } },
    );
    if (res.status !== 200) throw hubError(res, 'collect certificate');
    return res.body as CertificateResponse;
  }

  async renew(csr: string): Promise<CertificateResponse> {
    const res = await this.#http.request('POST', `/agent/v1/sites/${this.#site()}/renew`, { body: { csr } });
    if (res.status !== 200) throw hubError(res, 'renew certificate');
    return res.body as CertificateResponse;
  }

  /** Tells the hub the site's sealing public key (idempotent: sent at every start). */
  async announceSealingKey(publicKey: string): Promise<SealingKeyAck> {
    const res = await this.#http.request('PUT', `/agent/v1/sites/${this.#site()}/sealing-key`, {
      body: { publicKey },
    });
    if (res.status !== 200) throw hubError(res, 'sealing key');
    return res.body as SealingKeyAck;
  }

  /**
   * The desired state, or 'unchanged' when it still has digest `known` after waiting up to waitSeconds;
   * the hub answers early when operations wait for the site.
   */
  async desired(
    known: string | undefined,
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<DesiredAnswer> {
    const res = await this.#siteCall(
      'GET',
      `/agent/v1/sites/${this.#site()}/desired`,
      {
        query: { wait: known ? waitSeconds : undefined },
        headers: known ? { 'if-none-match': `"${known}"` } : {},
        timeoutMs: (waitSeconds + 30) * 1000,
        signal,
      },
      (r) => this.#unsigned(r),
    );
    const work = res.headers[workHeader] !== undefined;
    if (res.status === 304) return { desired: 'unchanged', work };
    if (res.status !== 200) throw hubError(res, 'desired state');
    return { desired: res.body as DesiredState, work };
  }

  /** Takes the operations waiting for this site; each is the agent's to perform and report. */
  async claimOperations(): Promise<SiteOperation[]> {
    const res = await this.#http.request('POST', `/agent/v1/sites/${this.#site()}/operations/claim`, {
      body: {},
    });
    if (res.status !== 200) throw hubError(res, 'claim operations');
    return (res.body as { items: SiteOperation[] }).items;
  }

  /** One chunk of a log request's answer; the hub says whether it wants more. */
  async logChunk(id: string, chunk: LogChunk): Promise<LogChunkAck> {
    const res = await this.#http.request(
      'POST',
      `/agent/v1/sites/${this.#site()}/operations/${encodeURIComponent(id)}/logs`,
      { body: chunk },
    );
    if (res.status !== 200) throw hubError(res, 'log chunk');
    return res.body as LogChunkAck;
  }

  async finishOperation(id: string, result: OperationResult): Promise<void> {
    const res = await this.#http.request(
      'POST',
      `/agent/v1/sites/${this.#site()}/operations/${encodeURIComponent(id)}/result`,
      { body: result },
    );
    if (res.status !== 204) throw hubError(res, 'operation result');
  }

  /** Whether an operator's request waits for this site's tunnel (asked when the poll says work waits). */
  async tunnelWanted(): Promise<boolean> {
    const res = await this.#http.request('GET', `/agent/v1/sites/${this.#site()}/tunnel`);
    if (res.status !== 200) throw hubError(res, 'tunnel wanted');
    return (res.body as { wanted: boolean }).wanted;
  }

  /** Tells the hub this site turns tunnels away, and why (the operator sees the reason). */
  async refuseTunnel(reason: string): Promise<void> {
    const res = await this.#http.request('POST', `/agent/v1/sites/${this.#site()}/tunnel/refusal`, {
      body: { reason },
    });
    if (res.status !== 204) throw hubError(res, 'tunnel refusal');
  }

  /**
   * Dials the tunnel: this site's mTLS connection to the hub itself (never a relay, which does not
   * carry upgrades), switched to the tunnel protocol; the hub then sends requests on it.
   */
  async dialTunnel(): Promise<Duplex> {
    const answer = await this.#http.upgrade(`/agent/v1/sites/${this.#site()}/tunnel`, tunnelUpgrade);
    if ('refused' in answer) throw hubError(answer.refused, 'tunnel');
    return answer.socket;
  }

  /** A rendered bundle's exact bytes, so the caller can check them against the digest. */
  async blob(digest: string): Promise<string> {
    const res = await this.#siteCall('GET', `/agent/v1/sites/${this.#site()}/blobs/${digest}`, {
      raw: true,
    });
    if (res.status !== 200) throw hubError(res, `blob ${digest}`);
    return res.body as string;
  }

  /** An agent release's tarball by digest, as it arrives; the caller checks digest and signature. */
  async release(digest: string, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
    const res = await this.#http.stream(`/agent/v1/sites/${this.#site()}/releases/${digest}`, {
      idleTimeoutMs: 60_000,
      signal,
    });
    if (res.error) throw hubError(res.error, `release ${digest}`);
    return res.body;
  }

  async report(report: Report): Promise<{ accepted: boolean; lastSeq: number }> {
    const res = await this.#siteCall('POST', `/agent/v1/sites/${this.#site()}/report`, { body: report });
    if (res.status !== 200) throw hubError(res, 'report');
    return res.body as { accepted: boolean; lastSeq: number };
  }

  /**
   * One telemetry batch, already gzipped (`Content-Encoding: gzip`). The hub answers a resend of a batch
   * it has with accepted false; the route is POST /agent/v1/sites/:siteId/telemetry.
   */
  async telemetry(gzipped: Buffer, signal?: AbortSignal): Promise<TelemetryAck> {
    const res = await this.#siteCall('POST', `/agent/v1/sites/${this.#site()}/telemetry`, {
      body: gzipped,
      headers: { 'content-encoding': 'gzip' },
      timeoutMs: 60_000,
      signal,
    });
    if (res.status < 200 || res.status > 299) throw hubError(res, 'telemetry');
    return res.body as TelemetryAck;
  }

  close(): void {
    for (const e of this.#endpoints) e.http.close();
  }
}
