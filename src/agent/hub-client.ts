// The agent's side of the agent API: register, long-poll the desired state by ETag, fetch blobs by
// digest, send reports. Every call is outbound; errors say whether retrying can help.

import type { DesiredState, RegisterRequest, RegisterResponse, Report } from '../model/wire.ts';
import { HttpClient, type JsonResponse } from '../net/http-client.ts';

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
  const body = res.body as { error?: { code?: string; message?: string } } | string;
  const err = typeof body === 'object' ? body?.error : undefined;
  return new HubError(`${what}: ${err?.message ?? `HTTP ${res.status}`}`, res.status, err?.code ?? 'unknown');
}

export class HubClient {
  readonly #http: HttpClient;
  #credential: string | undefined;

  constructor(hubUrl: string, credential?: string) {
    this.#credential = credential;
    this.#http = new HttpClient(
      hubUrl,
      {},
      (): Record<string, string> => (this.#credential ? { authorization: `Bearer ${this.#credential}` } : {}),
    );
  }

  set credential(c: string) {
    this.#credential = c;
  }

  async register(req: RegisterRequest): Promise<RegisterResponse> {
    const res = await this.#http.request('POST', '/agent/v1/register', { body: req });
    if (res.status !== 200) throw hubError(res, 'register');
    return res.body as RegisterResponse;
  }

  /** The desired state, or 'unchanged' when it still has digest `known` after waiting up to waitSeconds. */
  async desired(
    known: string | undefined,
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<DesiredState | 'unchanged'> {
    const res = await this.#http.request('GET', '/agent/v1/desired', {
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
    const res = await this.#http.request('GET', `/agent/v1/blobs/${digest}`, { raw: true });
    if (res.status !== 200) throw hubError(res, `blob ${digest}`);
    return res.body as string;
  }

  async report(report: Report): Promise<{ accepted: boolean; lastSeq: number }> {
    const res = await this.#http.request('POST', '/agent/v1/report', { body: report });
    if (res.status !== 200) throw hubError(res, 'report');
    return res.body as { accepted: boolean; lastSeq: number };
  }

  close(): void {
    this.#http.close();
  }
}
