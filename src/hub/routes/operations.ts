// The operations API (/api/v1): remote actions and log requests queued for a site's agent, their state,
// the logs that came back, and cancelling one. A scoped token reaches only its own sites' operations.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { ActionRequest, LogPage, LogRequest, OperationView } from '../../model/operations.ts';
import type { Role } from '../../model/roles.ts';
import { assertSiteReach, withinOf } from '../access/reach.ts';
import { actorOf, operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { requestAction } from '../operations/actions.ts';
import { logPage, requestLogs } from '../operations/logs.ts';
import { cancelOperation, getOperation, listOperations, siteOfOperation } from '../operations/operations.ts';
import { siteByName } from '../sites/sites.ts';
import { streamLogs } from './log-stream.ts';
import { operatorRoute, reaching } from './operator-route.ts';

const NameParam = Type.Object({ name: Type.String() });
const IdParam = Type.Object({ id: Type.String() });

export function operationRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  /**
   * Refuses an operation on a site the caller does not reach with `role`; to a scoped token a missing
   * operation and another site's look the same, so it learns neither which ids exist nor their sites.
   */
  async function assertOperationReach(request: FastifyRequest, id: string, role: Role): Promise<void> {
    const scoped = withinOf(request, role) !== undefined;
    const refused = () =>
      new OutpostError(
        'forbidden',
        `no operation ${id} within the ${role} reach of token ${request.operator!.name}`,
      );
    let site: string;
    try {
      site = await siteOfOperation(ctx, id);
    } catch (e) {
      if (scoped && e instanceof OutpostError && e.code === 'not_found') throw refused();
      throw e;
    }
    try {
      await assertSiteReach(ctx, request, site, role);
    } catch (e) {
      if (e instanceof OutpostError && e.code === 'forbidden') throw refused();
      throw e;
    }
  }

  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.post(
      '/sites/:name/actions',
      reaching(
        'sites',
        operatorRoute('operator', 'operations', {
          summary:
            "Queue a remote action for the site's agent (restart, reapply, drift-check, rotate-certificate; factory-reset takes admin)",
          params: NameParam,
          body: ActionRequest,
          response: { 202: OperationView },
        }),
      ),
      async (request, reply) => {
        // a factory reset wipes the site's state and identity: only an admin of the site may ask for it
        const role = request.body.action === 'factory-reset' ? 'admin' : 'operator';
        await assertSiteReach(ctx, request, request.params.name, role);
        const site = await siteByName(ctx, request.params.name);
        return reply.status(202).send(await requestAction(ctx, actorOf(request), site, request.body));
      },
    );

    // logs may hold what a viewer should not read: reading them takes the operator role
    app.post(
      '/sites/:name/logs',
      reaching(
        'sites',
        operatorRoute('operator', 'operations', {
          summary: "Ask the site's agent for container logs; read them with GET /operations/{id}/logs",
          params: NameParam,
          body: LogRequest,
          response: { 202: OperationView },
        }),
      ),
      async (request, reply) => {
        await assertSiteReach(ctx, request, request.params.name, 'operator');
        const site = await siteByName(ctx, request.params.name);
        return reply.status(202).send(await requestLogs(ctx, actorOf(request), site, request.body));
      },
    );

    app.get(
      '/sites/:name/operations',
      reaching(
        'sites',
        operatorRoute('viewer', 'operations', {
          params: NameParam,
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }),
          response: { 200: Type.Object({ items: Type.Array(OperationView) }) },
        }),
      ),
      async (request) => {
        await assertSiteReach(ctx, request, request.params.name, 'viewer');
        const site = await siteByName(ctx, request.params.name);
        return { items: await listOperations(ctx, site, request.query.limit ?? 50) };
      },
    );

    app.get(
      '/operations/:id',
      reaching(
        'sites',
        operatorRoute('viewer', 'operations', { params: IdParam, response: { 200: OperationView } }),
      ),
      async (request) => {
        await assertOperationReach(request, request.params.id, 'viewer');
        return getOperation(ctx, request.params.id);
      },
    );

    app.get(
      '/operations/:id/logs',
      reaching(
        'sites',
        operatorRoute('operator', 'operations', {
          summary: 'The log chunks after `after` (page on with lastSeq until done)',
          params: IdParam,
          querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })) }),
          response: { 200: LogPage },
        }),
      ),
      async (request) => {
        await assertOperationReach(request, request.params.id, 'operator');
        return logPage(ctx, request.params.id, request.query.after ?? 0);
      },
    );

    app.get(
      '/operations/:id/logs/stream',
      reaching(
        'sites',
        operatorRoute('operator', 'operations', {
          summary: 'The log chunks as Server-Sent Events while they come, then `end` (logs --follow)',
          description:
            'Each chunk is `id: SEQ`, `event: chunk`, `data: JSON string`; the last event is `end` with the operation. Resumes after the Last-Event-ID header or `after`. A viewer who disconnects from a follow session cancels it.',
          params: IdParam,
          querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })) }),
          produces: ['text/event-stream'],
        }),
      ),
      async (request, reply) => {
        await assertOperationReach(request, request.params.id, 'operator');
        const header = request.headers['last-event-id'];
        const resume = typeof header === 'string' && /^\d+$/.test(header.trim()) ? Number(header) : undefined;
        const after = resume ?? request.query.after ?? 0;
        await streamLogs(ctx, request, reply, actorOf(request), request.params.id, after);
      },
    );

    app.delete(
      '/operations/:id',
      reaching(
        'sites',
        operatorRoute('operator', 'operations', { params: IdParam, response: { 200: OperationView } }),
      ),
      async (request) => {
        await assertOperationReach(request, request.params.id, 'operator');
        return cancelOperation(ctx, actorOf(request), request.params.id);
      },
    );
  };
}
