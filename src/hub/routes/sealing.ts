// The sealing-key API (/api/v1/sealing-keys): the public keys `outpost secret seal` seals a Secret's
// values to, for the sites a bundle is placed on or for named sites. Public keys only, any role.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SealingKeys, SealingKeysQuery } from '../../model/sealing-wire.ts';
import { operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import { sealingKeys } from '../sites/sealing-keys.ts';
import { operatorRoute } from './operator-route.ts';

export function sealingRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.get(
      '/sealing-keys',
      operatorRoute('viewer', 'secrets', {
        summary: "the sealing public keys of a bundle's sites (?bundle=) or of named sites (?site=)",
        querystring: SealingKeysQuery,
        response: { 200: SealingKeys },
      }),
      async (request) => sealingKeys(ctx, request.query),
    );
  };
}
