// Following a hub event stream from Node (the CLI's `outpost events --watch`): one connection at a time
// over node:http(s), parsed by ./sse.ts, reconnecting after a drop with Last-Event-ID so nothing is missed.

import http from 'node:http';
import https from 'node:https';
import { sleep } from '../base/timing.ts';
import { type SseMessage, SseParser } from './sse.ts';

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
    await sleep(opts.retryMs ?? 3000, opts.signal);
  }
}
