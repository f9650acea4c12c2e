// Where the hub's background work writes its log lines. The context is built before any server, so the
// sink starts unplugged (lines go nowhere, as in a benchmark without a server) until a server plugs its logger in.

/** The part of a pino logger (Fastify's) the sink writes to. */
export interface LineLogger {
  info(fields: Record<string, unknown>, message: string): void;
}

export class LogSink {
  #target: LineLogger | undefined;

  info(message: string, fields?: Record<string, unknown>): void {
    this.#target?.info(fields ?? {}, message);
  }

  /** Sends every line to `target` from now on. */
  plug(target: LineLogger): void {
    this.#target = target;
  }
}
