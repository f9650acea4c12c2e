// Logs on demand at the hub: a request is checked and queued for the site's agent, which reads the logs
// from its cluster and uploads them in chunks; the hub keeps at most the request's byte limit and tells
// the agent to stop once it is reached, so one viewer cannot flood a store's uplink.

import { utf8Prefix } from '../../base/utf8.ts';
import { OutpostError } from '../../model/errors.ts';
import {
  finishedStates,
  type LogChunk,
  type LogChunkAck,
  type LogPage,
  type LogRequest,
  logLimits,
  type OperationState,
  type OperationView,
} from '../../model/operations.ts';
import type { Actor } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import type { AgentSite, Site } from '../sites/sites.ts';
import { getOperation, openOperations, queueOperation, runningOperation } from './operations.ts';

const defaultDeadlineSeconds = 3600;
/** chunks one page of GET …/logs returns */
const chunksPerPage = 64;

export async function requestLogs(
  ctx: HubContext,
  actor: Actor,
  site: Site,
  req: LogRequest,
): Promise<OperationView> {
  if (site.lifecycle !== 'Active') {
    throw new OutpostError(
      'conflict',
      `site ${site.name} is ${site.lifecycle}: only an active site has logs to read`,
    );
  }
  if ((req.pod === undefined) === (req.selector === undefined)) {
    throw new OutpostError(
      'request_invalid',
      'name one pod (--pod) or a label selector (-l), not both or neither',
    );
  }
  if (req.follow && req.pod === undefined) {
    throw new OutpostError('request_invalid', 'follow reads one pod: name it with --pod');
  }
  if (req.followSeconds !== undefined && !req.follow) {
    throw new OutpostError('request_invalid', 'followSeconds goes with follow');
  }
  const open = await openOperations(ctx, site, 'logs');
  if (open >= logLimits.perSite) {
    throw new OutpostError(
      'conflict',
      `site ${site.name} already has ${open} log requests waiting or running (at most ${logLimits.perSite}); wait for one to finish or cancel it`,
    );
  }
  const { deadlineSeconds, ...wanted } = req;
  const followSeconds = req.follow
    ? { followSeconds: req.followSeconds ?? logLimits.followDefaultSeconds }
    : {};
  return queueOperation(ctx, actor, site, {
    kind: 'logs',
    spec: { ...wanted, ...followSeconds, limitBytes: req.limitBytes ?? logLimits.defaultBytes },
    deadlineMs: (deadlineSeconds ?? defaultDeadlineSeconds) * 1000,
    action: 'site.logs.request',
  });
}

/**
 * One chunk from the agent, kept up to the request's byte limit (the rest is cut off). A chunk sent
 * again (its answer was lost) is kept once. The answer says whether the hub wants more: not past the
 * deadline, the byte limit or a follow session's time; an operation cancelled (its viewer left) is
 * refused outright. An empty chunk only asks.
 */
export async function appendLogChunk(
  ctx: HubContext,
  site: AgentSite,
  id: string,
  chunk: LogChunk,
): Promise<LogChunkAck> {
  const op = await runningOperation(ctx, site, id);
  if (op.kind !== 'logs') throw new OutpostError('request_invalid', `operation ${id} is not a log request`);
  const now = ctx.now();
  if (Date.parse(op.deadline_at) <= now.getTime()) return { more: false };
  const spec = JSON.parse(op.spec) as { limitBytes: number; followSeconds?: number };
  const limit = spec.limitBytes;
  if (spec.followSeconds !== undefined && op.claimed_at !== null) {
    if (Date.parse(op.claimed_at) + spec.followSeconds * 1000 <= now.getTime()) return { more: false };
  }
  if (chunk.data === '') return { more: Number(op.bytes) < limit };
  if (chunk.seq < 1) throw new OutpostError('request_invalid', 'a chunk with text has seq 1 or more');
  return ctx.store.db.transaction().execute(async (tx) => {
    const { bytes } = await tx
      .selectFrom('site_operations')
      .select('bytes')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const room = limit - Number(bytes);
    if (room <= 0) return { more: false };
    const data = utf8Prefix(chunk.data, room);
    const size = Buffer.byteLength(data, 'utf8');
    const inserted = await tx
      .insertInto('operation_log_chunks')
      .values({ operation_id: id, seq: chunk.seq, data, received_at: now.toISOString() })
      .onConflict((oc) => oc.columns(['operation_id', 'seq']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return { more: room > 0 };
    await tx
      .updateTable('site_operations')
      .set((eb) => ({ bytes: eb('bytes', '+', size) }))
      .where('id', '=', id)
      .execute();
    return { more: room - size > 0 };
  });
}

/** The chunks after `after`, and whether more may come. */
export async function logPage(ctx: HubContext, id: string, after: number): Promise<LogPage> {
  const operation = await getOperation(ctx, id);
  if (operation.kind !== 'logs')
    throw new OutpostError('request_invalid', `operation ${id} is not a log request`);
  const chunks = await ctx.store.db
    .selectFrom('operation_log_chunks')
    .select(['seq', 'data'])
    .where('operation_id', '=', id)
    .where('seq', '>', after)
    .orderBy('seq')
    .limit(chunksPerPage)
    .execute();
  const lastSeq = chunks[chunks.length - 1]?.seq ?? after;
  const finished = finishedStates.includes(operation.state as OperationState);
  return { operation, chunks, lastSeq, done: finished && chunks.length < chunksPerPage };
}
