// What a scoped API token may reach, enforced where requests arrive: each operator route declares its
// reach (the whole fleet, the token's sites, or the bundles it owns); fleet routes refuse a token bound
// to a part of the fleet, and the others narrow every read and check every target with these helpers.

import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import {
  describeBindings,
  mayChangeBundle,
  reachesFleet,
  type SiteReach,
  siteReach,
} from '../../model/access.ts';
import { OutpostError } from '../../model/errors.ts';
import type { Role } from '../../model/roles.ts';
import { type Labels, matchesSelector } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import type { Operator } from '../identity/api-tokens.ts';
import { withinSql } from '../status/query-sql.ts';

/**
 * - `fleet`: reads or changes the whole fleet (counts over every site, tokens, sources, rollouts): only a
 *   binding over every site may call it. The default, so a route that declares nothing fails closed.
 * - `sites`: reads are narrowed to the token's sites and each site acted on must be one of them.
 * - `bundles`: changes a bundle, which reaches sites anywhere: only a binding over the whole fleet may
 *   call it, and the handler checks that the binding's team (if any) owns the bundle.
 */
export type RouteReach = 'fleet' | 'sites' | 'bundles';

const reads = new Set(['GET', 'HEAD']);

/** The route-level check, after the role check: a fleet route needs a binding over the whole fleet. */
export function assertRouteReach(
  operator: Operator,
  reach: RouteReach | undefined,
  role: Role,
  method: string,
): void {
  if (reach === 'sites') return;
  const change = reach === undefined || reach === 'fleet' ? !reads.has(method) : false;
  if (reachesFleet(operator.bindings, role, change)) return;
  throw new OutpostError(
    'forbidden',
    `this needs the ${role} role over the whole fleet; token ${operator.name} reaches ${describeBindings(operator.bindings)}`,
  );
}

function operatorOf(request: FastifyRequest): Operator {
  const operator = request.operator;
  if (!operator) throw new OutpostError('unauthorized', 'missing API token (Authorization: Bearer …)');
  return operator;
}

/** The sites the caller reaches with at least `role`. */
export function reachOf(request: FastifyRequest, role: Role): SiteReach {
  return siteReach(operatorOf(request).bindings, role);
}

/** The selectors to narrow a read by, or undefined when the caller reaches every site. */
export function withinOf(request: FastifyRequest, role: Role = 'viewer') {
  const reach = reachOf(request, role);
  return reach.all ? undefined : reach.selectors;
}

function outside(request: FastifyRequest, name: string, role: Role): OutpostError {
  return new OutpostError(
    'forbidden',
    `no site named ${name} within the ${role} reach of token ${operatorOf(request).name}`,
  );
}

/**
 * Refuses a site the caller does not reach with `role`. The same answer whether the site exists or not,
 * so a scoped token cannot learn which names exist outside its reach.
 */
export async function assertSiteReach(
  ctx: HubContext,
  request: FastifyRequest,
  name: string,
  role: Role,
): Promise<void> {
  const within = withinOf(request, role);
  if (!within) return;
  const found = await ctx.store.db
    .selectFrom('sites as s')
    .select('s.id')
    .where('s.name', '=', name)
    .where(sql<boolean>`${withinSql(within, ctx.store.sql)}`)
    .executeTakeFirst();
  if (!found) throw outside(request, name, role);
}

/** Refuses labels that would move a site out of the caller's reach (a label change or an approval). */
export function assertLabelsWithinReach(
  request: FastifyRequest,
  name: string,
  labels: Labels,
  role: Role,
): void {
  const reach = reachOf(request, role);
  if (reach.all || reach.selectors.some((s) => matchesSelector(s, labels))) return;
  throw new OutpostError(
    'forbidden',
    `these labels would take site ${name} out of the ${role} reach of token ${operatorOf(request).name}`,
  );
}

/** The team that owns a bundle: its own, else its source's; null for nobody's (or no such bundle). */
export async function bundleOwner(ctx: HubContext, bundle: string): Promise<string | null> {
  const row = await ctx.store.db
    .selectFrom('bundles')
    .leftJoin('sources', 'sources.name', 'bundles.source')
    .select(['bundles.team as team', 'sources.team as sourceTeam'])
    .where('bundles.name', '=', bundle)
    .executeTakeFirst();
  return row?.team ?? row?.sourceTeam ?? null;
}

/**
 * Refuses a change to bundles the caller's bindings do not let it change (see mayChangeBundle); `what`
 * names them for the message ("bundle pos", "the bundles of source fleet").
 */
export function assertMayChangeBundle(request: FastifyRequest, what: string, owner: string | null): void {
  const operator = operatorOf(request);
  if (mayChangeBundle(operator.bindings, owner)) return;
  const whose = owner ? `team ${owner}'s` : 'owned by no team';
  throw new OutpostError(
    'forbidden',
    `${what}: ${whose}; token ${operator.name} reaches ${describeBindings(operator.bindings)}`,
  );
}
