// One small JSON-over-HTTP(S) client for every outbound call: the agent to its API server and the hub,
// the CLI to the hub. Keep-alive connections, optional client certificates, timeouts and abort.

import http from 'node:http';
import https from 'node:https';

export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** skip server certificate verification (only ever from an explicit kubeconfig setting) */
  insecure?: boolean;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** return the body as text, unparsed (e.g. to verify a digest over the exact bytes) */
  raw?: boolean;
}

export interface JsonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** parsed JSON when the response is JSON, else the text (empty for no body) */
  body: unknown;
}

/** A failure to talk at all (refused, reset, timed out): always worth retrying. */
export class TransportError extends Error {
  readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
  }
}

export class HttpClient {
  readonly baseUrl: URL;
  readonly #agent: http.Agent;
  readonly #headers: () => Promise<Record<string, string>> | Record<string, string>;

  constructor(
    baseUrl: string,
    tls: TlsOptions = {},
    headers: () => Promise<Record<string, string>> | Record<string, string> = () => ({}),
  ) {
    this.baseUrl = new URL(baseUrl);
    this.#headers = headers;
    this.#agent =
      this.baseUrl.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            maxSockets: 8,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            rejectUnauthorized: !tls.insecure,
          })
        : new http.Agent({ keepAlive: true, maxSockets: 8 });
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<JsonResponse> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const payload =
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body);
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(await this.#headers()),
      ...opts.headers,
    };
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<JsonResponse>((resolve, reject) => {
      const req = lib.request(url, { method, headers, agent: this.#agent, signal: opts.signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) =>
          reject(new TransportError(`${method} ${url.pathname}: ${e.message}`, { cause: e })),
        );
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if (text && !opts.raw && /json/.test(res.headers['content-type'] ?? '')) {
            try {
              body = JSON.parse(text);
            } catch {
              body = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      req.setTimeout(opts.timeoutMs ?? 30_000, () =>
        req.destroy(new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms`)),
      );
      req.on('error', (e) => {
        if (opts.signal?.aborted) reject(opts.signal.reason ?? e);
        else reject(new TransportError(`${method} ${url.host}${url.pathname}: ${e.message}`, { cause: e }));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
