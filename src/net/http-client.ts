// One small JSON-over-HTTP(S) client for every outbound call: the agent to its API server and the hub,
// the CLI to the hub. Keep-alive connections, optional client certificates, timeouts and abort.

import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** skip server certificate verification (only ever from an explicit kubeconfig setting) */
  insecure?: boolean;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON-encoded unless it is a string or a Buffer (sent as they are) */
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

export interface StreamOptions {
  query?: RequestOptions['query'];
  /** the stream is cut when nothing arrives for this long (a half-open connection looks like this) */
  idleTimeoutMs: number;
  signal?: AbortSignal;
}

export class HttpClient {
  readonly baseUrl: URL;
  readonly #agent: http.Agent;
  readonly #headers: () => Promise<Record<string, string>> | Record<string, string>;

  constructor(
    baseUrl: string,
    tls: TlsOptions = {},
    headers: () => Promise<Record<string, string>> | Record<string, string> = () => ({}),
    /** connections kept per host; long-lived streams each hold one for their whole life */
    maxSockets = 8,
  ) {
    this.baseUrl = new URL(baseUrl);
    this.#headers = headers;
    this.#agent =
      this.baseUrl.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            maxSockets,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            rejectUnauthorized: !tls.insecure,
          })
        : new http.Agent({ keepAlive: true, maxSockets });
  }

  async #prepare(path: string, opts: RequestOptions) {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const payload =
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string' || Buffer.isBuffer(opts.body)
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
    return { url, payload, headers, lib: url.protocol === 'https:' ? https : http };
  }

  /**
   * A GET whose body is read as it arrives (e.g. a watch). Resolves with the response once its head is
   * in; a status other than 200 comes back with its body already read, as `error`.
   */
  async stream(
    path: string,
    opts: StreamOptions,
  ): Promise<{ status: number; body: AsyncIterable<Buffer>; error?: JsonResponse }> {
    const { url, headers, lib } = await this.#prepare(path, { query: opts.query });
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        { method: 'GET', headers, agent: this.#agent, signal: opts.signal },
        (res) => {
          if (res.statusCode !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', (e) =>
              reject(new TransportError(`GET ${url.pathname}: ${e.message}`, { cause: e })),
            );
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let body: unknown = text;
              try {
                body = JSON.parse(text);
              } catch {
                // not JSON: keep the text
              }
              resolve({
                status: res.statusCode ?? 0,
                body: emptyStream(),
                error: { status: res.statusCode ?? 0, headers: res.headers, body },
              });
            });
            return;
          }
          resolve({ status: 200, body: streamOf(res, url.pathname, opts.signal) });
        },
      );
      req.setTimeout(opts.idleTimeoutMs, () =>
        req.destroy(new Error(`nothing received for ${opts.idleTimeoutMs} ms`)),
      );
      req.on('error', (e) => {
        if (opts.signal?.aborted) reject(opts.signal.reason ?? e);
        else reject(new TransportError(`GET ${url.host}${url.pathname}: ${e.message}`, { cause: e }));
      });
      req.end();
    });
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<JsonResponse> {
    const { url, payload, headers, lib } = await this.#prepare(path, opts);
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

  /**
   * A GET asking to switch the connection to `protocol`: resolves with the raw socket (certificate and
   * all, as this client's calls present it) once the server agrees; any other answer is returned as is.
   */
  async upgrade(path: string, protocol: string): Promise<{ socket: Duplex } | { refused: JsonResponse }> {
    const { url, headers, lib } = await this.#prepare(path, {});
    return new Promise((resolve, reject) => {
      const req = lib.request(url, {
        method: 'GET',
        headers: { ...headers, connection: 'Upgrade', upgrade: protocol },
        agent: this.#agent,
      });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve({ socket });
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ refused: { status: res.statusCode ?? 0, headers: res.headers, body } });
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timed out after 30000 ms')));
      req.on('error', (e) =>
        reject(new TransportError(`upgrade ${url.host}${url.pathname}: ${e.message}`, { cause: e })),
      );
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

async function* emptyStream(): AsyncIterable<Buffer> {}

/** The chunks of a streamed response; a cut connection surfaces as a TransportError, an abort as itself. */
async function* streamOf(
  res: http.IncomingMessage,
  what: string,
  signal: AbortSignal | undefined,
): AsyncIterable<Buffer> {
  try {
    for await (const chunk of res) yield chunk as Buffer;
  } catch (e) {
    if (signal?.aborted) throw signal.reason ?? e;
    throw new TransportError(`GET ${what}: ${(e as Error).message}`, { cause: e });
  } finally {
    res.destroy();
  }
  // A response cut before its end ('aborted') ends the iteration quietly in some Node versions.
  if (!res.complete) throw new TransportError(`GET ${what}: the stream was cut`);
}
