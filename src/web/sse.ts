// Server-Sent Events parsing for a stream read with fetch() (so the Authorization header goes with
// it, which EventSource cannot do): feed text chunks as they arrive, get whole events back.

export interface SseEvent {
  /** the last id seen on the stream (ids carry over to later events, as the spec says) */
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * An incremental parser for text/event-stream: chunks may split lines and events anywhere.
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
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private sawCarriageReturn = false;

  push(chunk: string): SseEvent[] {
    let text = chunk;
    // a \r\n pair split across chunks must not count as two line ends
    if (this.sawCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    this.sawCarriageReturn = text.endsWith('\r');
    this.buffer += text;
    const out: SseEvent[] = [];
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) {
      const e = this.line(line);
      if (e) out.push(e);
    }
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return undefined;
      }
      const e = { id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') };
      this.data = [];
      this.event = '';
      return e;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
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
