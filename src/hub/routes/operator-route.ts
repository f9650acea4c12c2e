// The options of an operator API route from a short description: the least role it allows, its OpenAPI
// tag, what it takes and what it answers, with the error answers every operator route shares.

import type { TSchema } from 'typebox';
import type { Role } from '../../model/roles.ts';
import { ErrorBody } from '../../model/wire.ts';
import type { RouteReach } from '../access/reach.ts';

/** What every operator route may answer besides its own answers (all in the ErrorBody shape). */
export const operatorErrors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
};

/** A route's schema as Fastify takes it, less the tags and the shared errors. */
export interface RouteSchema {
  summary?: string;
  description?: string;
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  /** the route's own answers by status; the shared errors are added */
  response?: Record<number, TSchema>;
  produces?: string[];
}

/**
 * Route options for an operator route: `config.role` for operatorAuth and the schema with `tag` and the
 * errors (operatorErrors unless the route's family answers others too).
 *
 * @example
 * app.get('/bundles/:name', operatorRoute('viewer', 'bundles', { params: NameParam, response: { 200: BundleView } }),
 *   async (request) => getBundle(ctx, request.params.name));
 */
export function operatorRoute<S extends RouteSchema, E extends Record<number, TSchema>>(
  role: Role,
  tag: string,
  schema: S,
  errors: E,
): { config: { role: Role }; schema: S & { tags: string[]; response: S['response'] & E } };
export function operatorRoute<S extends RouteSchema>(
  role: Role,
  tag: string,
  schema: S,
): {
  config: { role: Role };
  schema: S & { tags: string[]; response: S['response'] & typeof operatorErrors };
};
export function operatorRoute(
  role: Role,
  tag: string,
  schema: RouteSchema,
  errors: Record<number, TSchema> = operatorErrors,
) {
  return {
    config: { role },
    schema: { tags: [tag], ...schema, response: { ...schema.response, ...errors } },
  };
}

/**
 * A route that serves scoped tokens too (see access/reach.ts): its handler narrows what it reads to the
 * caller's sites, or checks the site or bundle it changes.
 *
 * @example
 * app.get('/attention', reaching('sites', operatorRoute('viewer', 'status', {…})), async (request) => …);
 */
export function reaching<R extends { config: { role: Role } }>(
  reach: Exclude<RouteReach, 'fleet'>,
  route: R,
): R & { config: { role: Role; reach: RouteReach } } {
  return { ...route, config: { ...route.config, reach } };
}
