// What an operator token may reach: role bindings, each a role over the sites a label selector picks
// (all sites without one) and, for bundle changes, the bundles a team owns (any team's without one).

import { formatSelector, type LabelSelector, validateSelector } from '../select/labels.ts';
import { isRole, type Role, roleAllows, roles } from './roles.ts';

export interface RoleBinding {
  role: Role;
  /** the sites this binding reaches; every site when absent */
  sites?: LabelSelector;
  /** the team whose bundles this binding may change; every bundle when absent */
  team?: string;
}

/** Which sites a token reaches at a role: all of them, or those any of these selectors picks. */
export type SiteReach = { all: true } | { all: false; selectors: LabelSelector[] };

const teamPattern = /^[a-z0-9][-a-z0-9_.]{0,62}$/;

function isEmptySelector(sel: LabelSelector | undefined): boolean {
  return (
    !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)
  );
}

/** Problems with a token's bindings, each as `bindings[i].field: message`; none means valid. */
export function bindingProblems(bindings: readonly RoleBinding[]): string[] {
  const out: string[] = [];
  if (bindings.length === 0) out.push('bindings: at least one binding');
  if (bindings.length > 20) out.push('bindings: at most 20');
  bindings.forEach((b, i) => {
    if (!isRole(b.role)) out.push(`bindings[${i}].role: must be one of ${roles.join(', ')}`);
    if (b.sites) {
      for (const p of validateSelector(b.sites)) out.push(`bindings[${i}].sites.${p.path}: ${p.message}`);
    }
    if (b.team !== undefined && !teamPattern.test(b.team)) {
      out.push(`bindings[${i}].team: 1-63 lower-case letters, digits, dashes, dots or underscores`);
    }
  });
  return out;
}

/** A binding as stored: an empty selector means every site, so it is dropped. */
export function normalizeBinding(b: RoleBinding): RoleBinding {
  return {
    role: b.role,
    ...(isEmptySelector(b.sites) ? {} : { sites: b.sites }),
    ...(b.team !== undefined ? { team: b.team } : {}),
  };
}

/** The bindings in a line, for messages and tables: `operator on region=west; viewer (team pos)`. */
export function describeBindings(bindings: readonly RoleBinding[]): string {
  return bindings
    .map(
      (b) =>
        `${b.role} on ${b.sites ? formatSelector(b.sites) : 'every site'}${b.team ? ` (team ${b.team})` : ''}`,
    )
    .join('; ');
}

/** The strongest role of any binding: the first gate every route checks. */
export function strongestRole(bindings: readonly RoleBinding[]): Role {
  let best: Role = 'viewer';
  for (const b of bindings) if (roleAllows(b.role, best)) best = b.role;
  return best;
}

/** The sites the bindings with at least `role` reach together. */
export function siteReach(bindings: readonly RoleBinding[], role: Role): SiteReach {
  const selectors: LabelSelector[] = [];
  for (const b of bindings) {
    if (!roleAllows(b.role, role)) continue;
    if (!b.sites) return { all: true };
    selectors.push(b.sites);
  }
  return { all: false, selectors };
}

/**
 * Whether some binding gives `role` over the whole fleet: what fleet-level reads (fleet-wide counts,
 * rollouts, plans) and fleet-level changes need. Changes also need the binding to be free of a team,
 * since a team's member must not make tokens or sources for the whole fleet.
 */
export function reachesFleet(bindings: readonly RoleBinding[], role: Role, change: boolean): boolean {
  return bindings.some((b) => roleAllows(b.role, role) && !b.sites && (!change || b.team === undefined));
}

/**
 * Whether the bindings may change a bundle owned by `owner` (null: nobody's): a binding with at least
 * operator over the whole fleet (a bundle reaches sites anywhere) whose team is absent or the owner.
 */
export function mayChangeBundle(bindings: readonly RoleBinding[], owner: string | null): boolean {
  return bindings.some(
    (b) => roleAllows(b.role, 'operator') && !b.sites && (b.team === undefined || b.team === owner),
  );
}

/** Whether the bindings may make a new bundle: operator over the whole fleet, in any team or none. */
export function mayCreateBundle(bindings: readonly RoleBinding[]): boolean {
  return bindings.some((b) => roleAllows(b.role, 'operator') && !b.sites);
}

/** The team a new bundle made by these bindings belongs to: the team of the binding that may make it. */
export function teamOfNewBundle(bindings: readonly RoleBinding[]): string | null {
  const usable = bindings.filter((b) => roleAllows(b.role, 'operator') && !b.sites);
  if (usable.some((b) => b.team === undefined)) return null;
  return usable[0]?.team ?? null;
}

function requirementKey(r: { key: string; operator: string; values?: string[] }): string {
  return JSON.stringify([r.key, r.operator, [...(r.values ?? [])].sort()]);
}

/**
 * True when every site `inner` picks is surely picked by `outer`: each requirement of `outer` appears in
 * `inner` too. Sound, not complete (`region in (west)` is not seen to imply `region in (west, east)`): a
 * scoped token is refused what cannot be shown to lie inside its reach.
 */
export function selectorWithin(inner: LabelSelector | undefined, outer: LabelSelector): boolean {
  const have = inner ?? {};
  for (const [k, v] of Object.entries(outer.matchLabels ?? {})) {
    const exprIn = (have.matchExpressions ?? []).some(
      (e) => e.key === k && e.operator === 'In' && e.values?.length === 1 && e.values[0] === v,
    );
    if (have.matchLabels?.[k] !== v && !exprIn) return false;
  }
  const own = new Set((have.matchExpressions ?? []).map(requirementKey));
  for (const [k, v] of Object.entries(have.matchLabels ?? {})) {
    own.add(requirementKey({ key: k, operator: 'In', values: [v] }));
  }
  return (outer.matchExpressions ?? []).every((e) => own.has(requirementKey(e)));
}

/** Whether the sites `inner` picks lie inside what the bindings reach at `role`. */
export function selectionWithinReach(
  bindings: readonly RoleBinding[],
  role: Role,
  inner: LabelSelector | undefined,
): boolean {
  const reach = siteReach(bindings, role);
  return reach.all || reach.selectors.some((outer) => selectorWithin(inner, outer));
}
