// Which profile a site follows, decided by the same placement rules as bundles (selector, CEL,
// include, exclude). A site has at most one stack: when two profiles match it, it follows neither and
// the refusal names both, so an operator fixes the selectors instead of guessing which one won.

import {
  type CompiledPlacement,
  compilePlacement,
  decidePlacement,
  type PlacementRules,
  type PlacementSubject,
} from '../../../select/placement.ts';

export interface PlacedProfile {
  name: string;
  placement: PlacementRules;
}

export type ProfileMatch =
  | { kind: 'none' }
  | { kind: 'matched'; profile: string }
  /** two or more profiles match the site: it follows none of them */
  | { kind: 'conflict'; profiles: string[]; message: string }
  /** a profile's rule could not be decided for the site (a CEL evaluation error) */
  | { kind: 'undecided'; profile: string; message: string };

export interface CompiledProfiles {
  profiles: Array<{ name: string; placement: CompiledPlacement }>;
}

/** Compiles every profile's placement once for many sites; throws CelCompileError on a bad rule. */
export function compileProfiles(profiles: readonly PlacedProfile[]): CompiledProfiles {
  return {
    profiles: [...profiles]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((p) => ({ name: p.name, placement: compilePlacement(p.placement) })),
  };
}

/** The profile a site follows, or why it follows none. */
export function matchProfile(compiled: CompiledProfiles, site: PlacementSubject): ProfileMatch {
  const matched: string[] = [];
  for (const p of compiled.profiles) {
    const decision = decidePlacement(p.placement, site);
    if (decision.error !== undefined)
      return {
        kind: 'undecided',
        profile: p.name,
        message: `site ${site.name}: profile ${p.name}: placement: ${decision.error}`,
      };
    if (decision.targeted) matched.push(p.name);
  }
  if (matched.length === 0) return { kind: 'none' };
  if (matched.length === 1) return { kind: 'matched', profile: matched[0]! };
  return {
    kind: 'conflict',
    profiles: matched,
    message: `site ${site.name} is matched by profiles ${matched.slice(0, -1).join(', ')} and ${matched.at(-1)}; a site follows one profile: narrow their placement`,
  };
}
