// The profile API (/api/v1/profiles): apply Profile documents as new revisions, list profiles with
// conformance counts, read one with its revisions and each site's conformance to it, follow and steer the
// rollouts of new revisions (/api/v1/profile-rollouts), and read what one site runs beneath its bundles.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ProfileApplyResult,
  ProfileConformance,
  ProfileDetail,
  ProfileRolloutDetail,
  ProfileRolloutView,
  ProfileView,
  SiteStackView,
} from '../../model/profile-wire.ts';
import { RolloutActionRequest } from '../../model/wire.ts';
import { actorOf, operatorAuth } from '../auth.ts';
import type { HubContext } from '../context.ts';
import {
  listProfileRollouts,
  profileRolloutDetail,
  queueProfileRolloutAction,
  tickProfileRollout,
} from '../profiles/profile-rollouts.ts';
import {
  applyProfiles,
  listProfiles,
  profileConformance,
  profileDetail,
  siteStack,
} from '../profiles/profiles.ts';
import { operatorRoute } from './operator-route.ts';

const NameParam = Type.Object({ name: Type.String() });
const IdParam = Type.Object({ id: Type.String() });
const ProfileFiles = Type.Object({
  files: Type.Array(
    Type.Object({ path: Type.String({ minLength: 1 }), content: Type.String({ maxLength: 1024 * 1024 }) }),
    { minItems: 1, maxItems: 100 },
  ),
});

export function profileRoutes(ctx: HubContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', operatorAuth(ctx));

    app.get(
      '/profiles',
      operatorRoute('viewer', 'profiles', {
        response: { 200: Type.Object({ items: Type.Array(ProfileView) }) },
      }),
      async () => ({ items: await listProfiles(ctx) }),
    );

    app.post(
      '/profiles',
      operatorRoute('operator', 'profiles', { body: ProfileFiles, response: { 200: ProfileApplyResult } }),
      async (request) => ({ items: await applyProfiles(ctx, actorOf(request), request.body.files) }),
    );

    app.get(
      '/profiles/:name',
      operatorRoute('viewer', 'profiles', { params: NameParam, response: { 200: ProfileDetail } }),
      async (request) => profileDetail(ctx, request.params.name),
    );

    app.get(
      '/profiles/:name/conformance',
      operatorRoute('viewer', 'profiles', { params: NameParam, response: { 200: ProfileConformance } }),
      async (request) => profileConformance(ctx, request.params.name),
    );

    app.get(
      '/profile-rollouts',
      operatorRoute('viewer', 'profiles', {
        querystring: Type.Object({ profile: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ items: Type.Array(ProfileRolloutView) }) },
      }),
      async (request) => ({ items: await listProfileRollouts(ctx, request.query.profile) }),
    );

    app.get(
      '/profile-rollouts/:id',
      operatorRoute('viewer', 'profiles', { params: IdParam, response: { 200: ProfileRolloutDetail } }),
      async (request) => profileRolloutDetail(ctx, request.params.id),
    );

    // the action is queued, then the rollout steps at once so the answer shows its effect
    app.post(
      '/profile-rollouts/:id/actions',
      operatorRoute('operator', 'profiles', {
        params: IdParam,
        body: RolloutActionRequest,
        response: { 200: ProfileRolloutDetail },
      }),
      async (request) => {
        const { id } = request.params;
        await queueProfileRolloutAction(ctx, actorOf(request), id, request.body);
        await tickProfileRollout(ctx, id);
        return profileRolloutDetail(ctx, id);
      },
    );

    app.get(
      '/sites/:name/stack',
      operatorRoute('viewer', 'profiles', { params: NameParam, response: { 200: SiteStackView } }),
      async (request) => siteStack(ctx, request.params.name),
    );
  };
}
