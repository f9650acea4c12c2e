// Whether a bundle targets a site, and why: excluded by name beats everything, included by name
// bypasses the rules, otherwise the label selector and the CEL expression (when given) must both hold.

import { type CompiledCel, compileCel } from './cel.ts';
import { explainSelector, type LabelSelector, matchesSelector, type RequirementResult } from './labels.ts';

export interface PlacementRules {
  selector: LabelSelector;
  /** a CEL expression over labels, properties and name */
  cel?: string;
  /** site names targeted whatever the rules say */
  include?: string[];
  /** site names never targeted */
  exclude?: string[];
}

export interface PlacementSubject {
  name: string;
  labels: Readonly<Record<string, string>>;
  properties: Readonly<Record<string, unknown>>;
}

export interface CompiledPlacement {
  rules: PlacementRules;
  cel?: CompiledCel;
}

/** `error` is set when the decision could not be made (a CEL evaluation error): never read it as "no". */
export interface PlacementDecision {
  targeted: boolean;
  error?: string;
}

export interface PlacementExplanation extends PlacementDecision {
  /** one line a person reads first */
  reason: string;
  excluded: boolean;
  included: boolean;
  selector: { matched: boolean; requirements: RequirementResult[] };
  cel?: { expression: string; result?: boolean; error?: string };
}

/** Throws CelCompileError for a bad expression. */
export function compilePlacement(rules: PlacementRules): CompiledPlacement {
  return rules.cel === undefined ? { rules } : { rules, cel: compileCel(rules.cel) };
}

export function decidePlacement(p: CompiledPlacement, site: PlacementSubject): PlacementDecision {
  if (p.rules.exclude?.includes(site.name)) return { targeted: false };
  if (p.rules.include?.includes(site.name)) return { targeted: true };
  if (!matchesSelector(p.rules.selector, site.labels)) return { targeted: false };
  if (!p.cel) return { targeted: true };
  const outcome = p.cel.evaluate(site);
  return 'error' in outcome ? { targeted: false, error: outcome.error } : { targeted: outcome.value };
}

export function explainPlacement(p: CompiledPlacement, site: PlacementSubject): PlacementExplanation {
  const excluded = p.rules.exclude?.includes(site.name) ?? false;
  const included = p.rules.include?.includes(site.name) ?? false;
  const selector = explainSelector(p.rules.selector, site.labels);
  const base = { excluded, included, selector };
  const cel = p.cel ? { expression: p.cel.expression, ...celResult(p.cel, site) } : undefined;
  const withCel = cel ? { ...base, cel } : base;
  if (excluded) return { ...withCel, targeted: false, reason: `${site.name} is in placement.exclude` };
  if (included) return { ...withCel, targeted: true, reason: `${site.name} is in placement.include` };
  if (!selector.matched) {
    const failed = selector.requirements.filter((r) => !r.matched).map((r) => r.requirement);
    return { ...withCel, targeted: false, reason: `the selector does not match: ${failed.join(', ')}` };
  }
  if (!cel) return { ...withCel, targeted: true, reason: 'the selector matches' };
  if (cel.error !== undefined) {
    return {
      ...withCel,
      targeted: false,
      error: cel.error,
      reason: `the CEL expression failed: ${cel.error}`,
    };
  }
  return cel.result
    ? { ...withCel, targeted: true, reason: 'the selector matches and the CEL expression is true' }
    : { ...withCel, targeted: false, reason: 'the selector matches but the CEL expression is false' };
}

function celResult(cel: CompiledCel, site: PlacementSubject): { result?: boolean; error?: string } {
  const outcome = cel.evaluate(site);
  return 'error' in outcome ? { error: outcome.error } : { result: outcome.value };
}
