// GET /api/v1/operations/{id}/logs/stream: a log request's chunks as Server-Sent Events while they come
// (`outpost logs --follow`), then one `end` event with how the operation ended. A viewer who leaves ends
// a follow session: the operation is cancelled, and the agent's next chunk or probe learns it.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { sleep } from '../../base/timing.ts';
import { finishedStates } from '../../model/operations.ts';
import type { Actor } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { logPage } from '../operations/logs.ts';
import { cancelOperation, getOperation } from '../operations/operations.ts';
import { openSse } from './sse-reply.ts';

/**
 * How often the stream looks for new chunks in the store: chunks may reach any replica, and a quarter
 * second is well inside what a person watching a log notices.
 */
const pollMs = 250;
const keepAliveMs = 15_000;

export async function streamLogs(
  ctx: HubContext,
  request: FastifyRequest,
  reply: FastifyReply,
  viewer: Actor,
  id: string,
  after: number,
): Promise<void> {
  // the first page before the answer's head: a wrong id is still a plain error answer
  let page = await logPage(ctx, id, after);
  const { gone, write, end } = openSse(request, reply);
  let ended = false;
  try {
    let quietSince = Date.now();
    for (;;) {
      for (const c of page.chunks)
        await write(`id: ${c.seq}\nevent: chunk\ndata: ${JSON.stringify(c.data)}\n\n`);
      if (page.chunks.length > 0) quietSince = Date.now();
      if (page.done) {
        await write(`event: end\ndata: ${JSON.stringify(page.operation)}\n\n`);
        ended = true;
        return;
      }
      if (page.chunks.length === 0) {
        await sleep(pollMs, gone);
        if (gone.aborted) return;
        if (Date.now() - quietSince >= keepAliveMs) {
          await write(': keep-alive\n\n');
          quietSince = Date.now();
        }
      }
      page = await logPage(ctx, id, page.lastSeq);
    }
  } catch (e) {
    if (!gone.aborted) request.log.warn({ err: e }, 'log stream ended by an error');
  } finally {
    end();
    if (!ended) await leave(ctx, viewer, id, request);
  }
}

/** The viewer left before the end: a follow session it watched stops, so the site's uplink is freed. */
async function leave(ctx: HubContext, viewer: Actor, id: string, request: FastifyRequest): Promise<void> {
  try {
    const op = await getOperation(ctx, id);
    if (op.spec.follow === true && !finishedStates.includes(op.state)) await cancelOperation(ctx, viewer, id);
  } catch (e) {
    request.log.warn({ err: e }, 'could not end the follow session its viewer left');
  }
}
