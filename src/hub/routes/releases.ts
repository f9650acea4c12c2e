// Agent releases in the operator API (/api/v1/agent-releases): push a signed tarball (admin), list and
// read them. Agents download a release by digest from the agent API (routes/agent.ts).

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { AgentReleaseView, ErrorBody } from '../../model/wire.ts';
import { actorOf, operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { getRelease, listReleases, pushRelease } from '../releases/releases.ts';
import { operatorErrors, operatorRoute } from './operator-route.ts';

const VersionParam = Type.Object({ version: Type.String() });

export function releaseRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));
    // a release is sent as its bytes; the signed facts about it come in the query
    app.addContentTypeParser(
      'application/octet-stream',
      { parseAs: 'buffer', bodyLimit: ctx.config.releases.maxBytes },
      (_request, body, done) => done(null, body),
    );

    app.get(
      '/agent-releases',
      operatorRoute('viewer', 'releases', {
        response: { 200: Type.Object({ items: Type.Array(AgentReleaseView) }) },
      }),
      async () => ({ items: await listReleases(ctx) }),
    );

    app.get(
      '/agent-releases/:version',
      operatorRoute('viewer', 'releases', { params: VersionParam, response: { 200: AgentReleaseView } }),
      async (request) => getRelease(ctx, request.params.version),
    );

    app.put(
      '/agent-releases/:version',
      {
        ...operatorRoute(
          'admin',
          'releases',
          {
            description:
              'Stores a release tarball (body, application/octet-stream) signed with the release key the hub was started with.',
            params: VersionParam,
            querystring: Type.Object({
              digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
              signature: Type.String({ minLength: 1, maxLength: 200 }),
              image: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
            }),
            response: { 200: AgentReleaseView, 201: AgentReleaseView },
          },
          { ...operatorErrors, 413: ErrorBody },
        ),
        bodyLimit: ctx.config.releases.maxBytes,
      },
      async (request, reply) => {
        const content = request.body;
        if (!Buffer.isBuffer(content))
          throw new OutpostError('request_invalid', 'send the tarball as application/octet-stream');
        const { release, created } = await pushRelease(ctx, actorOf(request), {
          version: request.params.version,
          digest: request.query.digest,
          signature: request.query.signature,
          ...(request.query.image ? { image: request.query.image } : {}),
          content,
        });
        return reply.status(created ? 201 : 200).send(release);
      },
    );
  };
}
