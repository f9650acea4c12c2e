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
  const open = await openOperations(ctx, site, 'logs');
  if (open >= logLimits.perSite) {
    throw new OutpostError(
      'conflict',
      `site ${site.name} already has ${open} log requests waiting or running (at most ${logLimits.perSite}); wait for one to finish or cancel it`,
    );
  }
  const { deadlineSeconds, ...wanted } = req;
  return queueOperation(ctx, actor, site, {
    kind: 'logs',
    spec: { ...wanted, limitBytes: req.limitBytes ?? logLimits.defaultBytes },
    deadlineMs: (deadlineSeconds ?? defaultDeadlineSeconds) * 1000,
    action: 'site.logs.request',
  });
}

/**
 * One chunk from the agent, kept up to the request's byte limit (the rest is cut off). A chunk sent
 * again (its answer was lost) is kept once. The answer says whether the hub wants more.
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
  const limit = (JSON.parse(op.spec) as { limitBytes: number }).limitBytes;
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
