// The agent's side of the agent API: pin the hub's CA from the join token, register, collect or renew
// the certificate, long-poll the desired state by ETag, fetch blobs by digest, send reports. Every
// call is outbound; after registration every call is mTLS. Errors say whether retrying can help.

import type { SealingKeyAck } from '../model/sealing-wire.ts';
import type { TelemetryAck } from '../model/telemetry.ts';
import type {
  CertificateResponse,
  DesiredState,
  RegisterRequest,
  RegisterResponse,
  Report,
} from '../model/wire.ts';
import { HttpClient, type JsonResponse } from '../net/http-client.ts';
import { fingerprintSha256 } from '../pki/certificate.ts';

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

export class HubClient {
  readonly hub: string;
  readonly #caPem: string;
  #http: HttpClient;
  #siteId: string | undefined;

  constructor(hub: string, caPem: string, identity?: ClientIdentity, siteId?: string) {
    this.hub = hub;
    this.#caPem = caPem;
    this.#siteId = siteId;
    this.#http = new HttpClient(hub, { ca: caPem, cert: identity?.certPem, key: identity?.keyPem });
  }

  /** Switches to a new certificate; requests already under way finish on the old connections. */
  setIdentity(identity: ClientIdentity, siteId: string): void {
    const old = this.#http;
    this.#http = new HttpClient(this.hub, { ca: this.#caPem, cert: identity.certPem, key: identity.keyPem });
    this.#siteId = siteId;
    setTimeout(() => old.close(), 120_000).unref();
  }

  #site(): string {
    if (!this.#siteId) throw new Error('the agent has no site identity yet');
    return encodeURIComponent(this.#siteId);
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

  /** The desired state, or 'unchanged' when it still has digest `known` after waiting up to waitSeconds. */
  async desired(
    known: string | undefined,
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<DesiredState | 'unchanged'> {
    const res = await this.#http.request('GET', `/agent/v1/sites/${this.#site()}/desired`, {
      query: { wait: known ? waitSeconds : undefined },
      headers: known ? { 'if-none-match': `"${known}"` } : {},
      timeoutMs: (waitSeconds + 30) * 1000,
      signal,
    });
    if (res.status === 304) return 'unchanged';
    if (res.status !== 200) throw hubError(res, 'desired state');
    return res.body as DesiredState;
  }

  /** A rendered bundle's exact bytes, so the caller can check them against the digest. */
  async blob(digest: string): Promise<string> {
    const res = await this.#http.request('GET', `/agent/v1/sites/${this.#site()}/blobs/${digest}`, {
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
    const res = await this.#http.request('POST', `/agent/v1/sites/${this.#site()}/report`, { body: report });
    if (res.status !== 200) throw hubError(res, 'report');
    return res.body as { accepted: boolean; lastSeq: number };
  }

  /**
   * One telemetry batch, already gzipped (`Content-Encoding: gzip`). The hub answers a resend of a batch
   * it has with accepted false; the route is POST /agent/v1/sites/:siteId/telemetry.
   */
  async telemetry(gzipped: Buffer, signal?: AbortSignal): Promise<TelemetryAck> {
    const res = await this.#http.request('POST', `/agent/v1/sites/${this.#site()}/telemetry`, {
      body: gzipped,
      headers: { 'content-encoding': 'gzip' },
      timeoutMs: 60_000,
      signal,
    });
    if (res.status < 200 || res.status > 299) throw hubError(res, 'telemetry');
    return res.body as TelemetryAck;
  }

  close(): void {
    this.#http.close();
  }
}
