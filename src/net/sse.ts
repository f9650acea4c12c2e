// Server-Sent Events: the one incremental parser for the text/event-stream format (WHATWG HTML §9.2.6),
// fed text chunks as they arrive. Pure and browser-safe: the dashboard reads the hub's stream with it
// through fetch(), the CLI through node:https (./follow-events.ts).

export interface SseMessage {
  /** the last id seen on the stream (ids carry over to later messages, as the spec says) */
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * An incremental parser for text/event-stream: chunks may split lines and messages anywhere.
 *
 * @example
 * const p = new SseParser();
 * p.push('id: 7\nevent: registered\nda'); // []
 * p.push('ta: {"a":1}\n\n'); // [{ id: '7', event: 'registered', data: '{"a":1}' }]
 */
export class SseParser {
  lastEventId: string | undefined;
  /** the server's `retry:` advice in ms, when it gave one */
  retryMs: number | undefined;
  readonly #onMessage: ((m: SseMessage) => void) | undefined;
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #sawCarriageReturn = false;

  /** `onMessage`, when given, hears each message as push completes it. */
  constructor(onMessage?: (m: SseMessage) => void) {
    this.#onMessage = onMessage;
  }

  /** Feeds a chunk; returns the messages it completed, in order (comments and messages without data are none). */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    // a \r\n pair split across chunks must not count as two line ends
    if (this.#sawCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    this.#sawCarriageReturn = text.endsWith('\r');
    this.#buffer += text;
    const out: SseMessage[] = [];
    const lines = this.#buffer.split(/\r\n|\r|\n/);
    this.#buffer = lines.pop() ?? '';
    for (const line of lines) {
      const m = this.#line(line);
      if (m) {
        out.push(m);
        this.#onMessage?.(m);
      }
    }
    return out;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = '';
        return undefined;
      }
      const m = { id: this.lastEventId, event: this.#event || 'message', data: this.#data.join('\n') };
      this.#data = [];
      this.#event = '';
      return m;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }
}

/** How long to wait before reconnect attempt `n` (0-based): the server's advice, doubling to a cap. */
export function reconnectDelayMs(attempt: number, advisedMs = 3000, capMs = 30_000): number {
  return Math.min(capMs, advisedMs * 2 ** Math.max(0, Math.min(attempt, 10)));
}
