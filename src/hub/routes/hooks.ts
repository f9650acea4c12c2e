// Webhooks from git hosts (POST /hooks/git/:source): no API token, but the source's secret — either as
// an HMAC-SHA256 of the body (X-Hub-Signature-256: sha256=…, as GitHub and Gitea send) or as the
// secret itself (X-Outpost-Webhook-Secret, or GitLab's X-Gitlab-Token), compared in constant time.
// A valid call starts a sync and answers 202 at once; the push payload itself is not trusted.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OutpostError } from '../../model/errors.ts';
import { ErrorBody } from '../../model/wire.ts';
import type { HubContext } from '../context.ts';
import { sourceRow, syncSource } from '../sources/sources.ts';

function sameSecret(a: string, b: string): boolean {
  // hashing first gives equal lengths, so the comparison's time says nothing about the secret
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function verifyWebhook(secret: string, body: Buffer, headers: Record<string, unknown>): boolean {
  const signature = headers['x-hub-signature-256'];
  if (typeof signature === 'string') {
    const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    return sameSecret(signature, expected);
  }
  const shared = headers['x-outpost-webhook-secret'] ?? headers['x-gitlab-token'];
  return typeof shared === 'string' && sameSecret(shared, secret);
}

export function hookRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    // the signature covers the exact bytes sent, so keep the body raw
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    );

    app.post(
      '/git/:source',
      {
        schema: {
          tags: ['sources'],
          security: [],
          params: Type.Object({ source: Type.String() }),
          response: { 202: Type.Object({ accepted: Type.Boolean() }), 401: ErrorBody, 404: ErrorBody },
        },
      },
      async (request, reply) => {
        const unknown = new OutpostError('unauthorized', 'webhook signature or secret does not match');
        const row = await sourceRow(ctx, request.params.source).catch(() => undefined);
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        // an unknown source answers like a wrong secret, so names cannot be probed
        if (!row || !verifyWebhook(row.webhook_secret, body, request.headers)) throw unknown;
        const actor = { name: `webhook:${row.name}`, source: request.ip };
        void syncSource(ctx, actor, row.name).catch((e) =>
          request.log.error({ err: e }, 'webhook sync failed'),
        );
        return reply.status(202).send({ accepted: true });
      },
    );
  };
}
