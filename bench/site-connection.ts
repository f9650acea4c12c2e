// One simulated site's connection for the load generator: a kept-alive mTLS socket with the site's own
// certificate, speaking just the HTTP/1.1 the agent protocol needs (GET desired, POST report, JSON).
//
// Why not the product's HttpClient: per site it holds an https.Agent, and per connection a TLS context
// parsed from PEM and Node's request/response/parser objects per call; at 12,500 sites a process that was
// ≈ 130 KiB a site (bench/RESULTS.md). Here a site holds one TLS context, built once from its certificate
// and the shared key, one socket and one pending call, and nothing more. The hub's certificate is checked
// against the CA parsed once for every site (signature, validity, name), not by a CA store in each site's
// TLS context, which costs ≈ 5 KiB a site.

import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';

export interface SiteResponse {
  status: number;
  etag: string | undefined;
  /** the body as text ('' for none) */
  body: string;
}

/** What every site of one generator shares: where to connect and whom to trust. */
export interface SiteEndpoint {
  url: string;
  ca: string;
  key: string;
}

export interface SiteEndpointTrust {
  host: string;
  port: number;
  servername: string | undefined;
  ca: X509Certificate;
  key: string;
}

/** Parses the endpoint once for every site a generator runs. */
export function trustOf(endpoint: SiteEndpoint): SiteEndpointTrust {
  const url = new URL(endpoint.url);
  const host = url.hostname;
  return {
    host,
    port: Number(url.port || 443),
    // SNI takes a name, never an address
    servername: isIP(host) ? undefined : host,
    ca: new X509Certificate(endpoint.ca),
    key: endpoint.key,
  };
}

interface Pending {
  resolve: (res: SiteResponse) => void;
  reject: (e: Error) => void;
  head?: { status: number; etag: string | undefined; length: number; chunked: boolean; close: boolean };
  received: Buffer;
}

export class SiteConnection {
  readonly #trust: SiteEndpointTrust;
  readonly #context: tls.SecureContext;
  #socket: tls.TLSSocket | undefined;
  #pending: Pending | undefined;

  constructor(trust: SiteEndpointTrust, cert: string) {
    this.#trust = trust;
    this.#context = tls.createSecureContext({ cert, key: trust.key });
  }

  /** One call; a second before the first has answered is a caller's mistake. */
  request(
    method: 'GET' | 'POST',
    path: string,
    opts: { body?: string; ifNoneMatch?: string; timeoutMs: number },
  ): Promise<SiteResponse> {
    if (this.#pending) return Promise.reject(new Error(`${method} ${path}: a call is already pending`));
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#trust.host}:${this.#trust.port}\r\naccept: application/json\r\n`;
    if (opts.ifNoneMatch) head += `if-none-match: ${opts.ifNoneMatch}\r\n`;
    if (opts.body !== undefined)
      head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(opts.body)}\r\n`;
    const socket = this.#connected();
    socket.setTimeout(opts.timeoutMs);
    return new Promise<SiteResponse>((resolve, reject) => {
      this.#pending = {
        resolve,
        reject: (e) => reject(new Error(`${method} ${path}: ${e.message}`, { cause: e })),
        received: Buffer.alloc(0),
      };
      socket.write(opts.body === undefined ? `${head}\r\n` : `${head}\r\n${opts.body}`);
    });
  }

  close(): void {
    this.#socket?.destroy();
  }

  #connected(): tls.TLSSocket {
    if (this.#socket && !this.#socket.destroyed) return this.#socket;
    const socket = tls.connect({
      host: this.#trust.host,
      port: this.#trust.port,
      servername: this.#trust.servername,
      secureContext: this.#context,
      // checked in 'secureConnect' against the CA parsed once (see the file's opening comment)
      rejectUnauthorized: false,
    });
    socket.once('secureConnect', () => {
      const refused = this.#refusedServer(socket);
      if (refused) socket.destroy(refused);
    });
    socket.on('data', (chunk: Buffer) => this.#received(socket, chunk));
    socket.on('timeout', () => socket.destroy(new Error(`timed out after ${socket.timeout} ms`)));
    socket.on('error', (e) => this.#lost(socket, e));
    socket.on('close', () => this.#lost(socket, new Error('the connection closed')));
    this.#socket = socket;
    return socket;
  }

  #refusedServer(socket: tls.TLSSocket): Error | undefined {
    const peer = socket.getPeerX509Certificate();
    if (!peer) return new Error('the server sent no certificate');
    const now = Date.now();
    if (!peer.checkIssued(this.#trust.ca) || !peer.verify(this.#trust.ca.publicKey))
      return new Error(`the server's certificate (${peer.subject}) is not signed by the CA`);
    if (now < Date.parse(peer.validFrom) || now > Date.parse(peer.validTo))
      return new Error(`the server's certificate is not valid now (${peer.validFrom} – ${peer.validTo})`);
    const host = this.#trust.host;
    const named = isIP(host) ? peer.checkIP(host) : peer.checkHost(host);
    return named ? undefined : new Error(`the server's certificate does not name ${host}`);
  }

  /** The socket is gone (or going): a call pending on it fails; the next call connects again. */
  #lost(socket: tls.TLSSocket, e: Error): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    socket.destroy();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(e);
  }

  #received(socket: tls.TLSSocket, chunk: Buffer): void {
    const pending = this.#pending;
    if (this.#socket !== socket) return;
    if (!pending) {
      this.#lost(socket, new Error('the server sent bytes no call asked for'));
      return;
    }
    pending.received = pending.received.length === 0 ? chunk : Buffer.concat([pending.received, chunk]);
    let body: Buffer | undefined;
    try {
      if (!pending.head) {
        const end = pending.received.indexOf('\r\n\r\n');
        if (end < 0) return;
        pending.head = parseHead(pending.received.toString('latin1', 0, end));
        pending.received = pending.received.subarray(end + 4);
      }
      body = pending.head.chunked
        ? unchunked(pending.received)
        : pending.received.length >= pending.head.length
          ? pending.received.subarray(0, pending.head.length)
          : undefined;
    } catch (e) {
      this.#lost(socket, e as Error);
      return;
    }
    if (body === undefined) return;
    this.#pending = undefined;
    socket.setTimeout(0);
    if (pending.head.close) this.#lost(socket, new Error('closed by the server'));
    pending.resolve({ status: pending.head.status, etag: pending.head.etag, body: body.toString('utf8') });
  }
}

function parseHead(text: string): NonNullable<Pending['head']> {
  const lines = text.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1]);
  if (!status) throw new Error(`not an HTTP/1.1 response: ${lines[0]}`);
  const head = { status, etag: undefined as string | undefined, length: 0, chunked: false, close: false };
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') head.length = Number(value);
    else if (name === 'etag') head.etag = value;
    else if (name === 'transfer-encoding') head.chunked = /chunked/i.test(value);
    else if (name === 'connection') head.close = /close/i.test(value);
  }
  // a 304 may name the length of the body it does not send
  if (status === 304 || status === 204) Object.assign(head, { length: 0, chunked: false });
  return head;
}

/** A chunked body once its last chunk is in, else undefined (trailers are not used by the hub). */
function unchunked(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(data.toString('latin1', at, lineEnd), 16);
    if (size === 0) return data.indexOf('\r\n', lineEnd + 2) < 0 ? undefined : Buffer.concat(parts);
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
