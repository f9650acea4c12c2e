// GET /api/v1/events/stream: events as Server-Sent Events for the dashboard and `outpost events
// --watch`. Resumes after Last-Event-ID (or ?after=); without either it starts with the next event.
// Comments keep idle connections alive; the stream ends when the client goes or the hub closes.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HubContext } from '../context.ts';
import { type EventFilter, eventsAfter, lastEventId } from '../status/events.ts';
import { openSse } from './sse-reply.ts';

const batch = 500;

function startId(request: FastifyRequest, after: number | undefined): number | undefined {
  const header = request.headers['last-event-id'];
  const text = Array.isArray(header) ? header[0] : header;
  if (text !== undefined && /^\d+$/.test(text.trim())) return Number(text.trim());
  return after;
}

export async function streamEvents(
  ctx: HubContext,
  request: FastifyRequest,
  reply: FastifyReply,
  filter: EventFilter,
  after: number | undefined,
): Promise<void> {
  let last = startId(request, after) ?? (await lastEventId(ctx));
  const { gone, write, end } = openSse(request, reply);
  try {
    await write('retry: 3000\n\n');
    while (!gone.aborted && !ctx.events.closed.aborted) {
      const version = ctx.events.version;
      const events = await eventsAfter(ctx, last, filter, batch);
      for (const e of events) {
        await write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
        last = e.id;
      }
      if (events.length === batch) continue;
      const woken = await ctx.events.next(ctx.config.events.streamHeartbeatMs, gone, version);
      if (!woken && !gone.aborted && !ctx.events.closed.aborted) await write(': keep-alive\n\n');
    }
  } catch (e) {
    if (!gone.aborted) request.log.warn({ err: e }, 'event stream ended by an error');
  } finally {
    // a closing hub waits for every socket: leave none idle in keep-alive behind the ended stream
    end(ctx.events.closed.aborted);
  }
}
