// What the commands that keep running (hub, agent, sim, demo, events --watch) share: timestamped log
// lines on stderr, leaving stdout to their results, and a signal that aborts on Ctrl-C or SIGTERM.

export function logLine(message: string, fields?: Record<string, unknown>): void {
  const extra = fields
    ? ` ${Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')}`
    : '';
  process.stderr.write(`${new Date().toISOString()} ${message}${extra}\n`);
}

/** Aborts on Ctrl-C or SIGTERM. */
export function untilSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return ac.signal;
}
