// Server-Sent Events: an incremental parser for the text/event-stream format (WHATWG HTML §9.2.6),
// fed chunks as they arrive, and a reader that follows a hub stream, resuming after the last id.

import http from 'node:http';
import https from 'node:https';

export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

/** Feeds text chunks in, calls onMessage per complete message; comments and retry lines are skipped. */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  readonly #onMessage: (m: SseMessage) => void;

  constructor(onMessage: (m: SseMessage) => void) {
    this.#onMessage = onMessage;
  }

  push(chunk: string): void {
    this.#buffer += chunk;
    for (;;) {
      const nl = this.#buffer.search(/\r\n|\r|\n/);
      if (nl < 0) return;
      // a lone \r at the end may be half of \r\n: wait for the next chunk
      if (this.#buffer[nl] === '\r' && nl === this.#buffer.length - 1) return;
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + (this.#buffer.startsWith('\r\n', nl) ? 2 : 1));
      this.#line(line);
    }
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) {
        this.#onMessage({ id: this.#id, event: this.#event || 'message', data: this.#data.join('\n') });
      }
      this.#data = [];
      this.#event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\u0000')) this.#id = value;
  }
}

export interface FollowOptions {
  headers?: Record<string, string>;
  /** CA certificate to trust for an https URL (the hub's own CA) */
  ca?: string;
  /** resume after this id (sent as Last-Event-ID) */
  lastEventId?: string;
  signal: AbortSignal;
  /** wait before reconnecting after the stream drops */
  retryMs?: number;
  onMessage: (m: SseMessage) => void;
  /** a failed connection (the reader retries unless told to stop by a thrown error here) */
  onError?: (e: Error) => void;
}

function openOnce(url: URL, opts: FollowOptions, lastId: string | undefined): Promise<string | undefined> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let last = lastId;
    const headers: Record<string, string> = { accept: 'text/event-stream', ...opts.headers };
    if (last !== undefined) headers['last-event-id'] = last;
    const req = lib.get(url, { headers, signal: opts.signal, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`event stream answered HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      const parser = new SseParser((m) => {
        if (m.id !== undefined) last = m.id;
        opts.onMessage(m);
      });
      res.on('data', (chunk: string) => parser.push(chunk));
      res.on('end', () => resolve(last));
      res.on('error', () => resolve(last));
    });
    req.on('error', (e) => (opts.signal.aborted ? resolve(last) : reject(e)));
  });
}

/** Follows a stream until the signal aborts, reconnecting with Last-Event-ID so nothing is missed. */
export async function followEvents(url: URL, opts: FollowOptions): Promise<void> {
  let last = opts.lastEventId;
  while (!opts.signal.aborted) {
    try {
      last = await openOnce(url, opts, last);
    } catch (e) {
      opts.onError?.(e as Error);
    }
    if (opts.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.retryMs ?? 3000);
      opts.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
}
