// `outpost events`: the fleet's recent events, and with --watch the stream of new ones as they happen,
// resumed after a dropped connection without missing any.

import type { Command } from '@commander-js/extra-typings';
import type { EventView } from '../model/wire.ts';
import { followEvents } from '../net/follow-events.ts';
import { logLine, untilSignal } from './long-running.ts';
import { api, json, operatorOptions, outputOption, print } from './options.ts';

/** One event as a line: time, id, type, what it is about, message. */
export function eventLine(e: EventView): string {
  const about = [e.site, e.bundle].filter(Boolean).join('/');
  return `${e.time}  #${e.id}  ${e.type.padEnd(12)} ${about.padEnd(24)} ${e.message}`;
}

export function addEventsCommand(root: Command): void {
  operatorOptions(root.command('events').description('fleet events; --watch follows them as they happen'))
    .option('--site <name>', 'only events about this site')
    .option('--type <type>', 'only events of this type')
    .option('--limit <n>', 'how many recent events to show first', '50')
    .option('-w, --watch', 'keep following new events (Ctrl-C stops)')
    .addOption(outputOption())
    .action(async (opts) => {
      const hub = await api(opts);
      const filter = { ...(opts.site ? { site: opts.site } : {}), ...(opts.type ? { type: opts.type } : {}) };
      const recent = await hub.events({ ...filter, limit: Number(opts.limit) });
      const show = (e: EventView) =>
        opts.output === 'json' ? print(JSON.stringify(e)) : print(eventLine(e));
      if (!opts.watch && opts.output === 'json') return json(recent.items);
      for (const e of recent.items) show(e);
      if (!opts.watch) return;
      const { url, headers, ca } = hub.eventStream(filter);
      await followEvents(url, {
        headers,
        ca,
        lastEventId: String(recent.lastId),
        signal: untilSignal(),
        onMessage: (m) => show(JSON.parse(m.data) as EventView),
        onError: (e) => logLine('event stream interrupted; reconnecting', { error: e.message }),
      });
    });
}
