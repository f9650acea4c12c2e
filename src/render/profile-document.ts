// The spec of a `kind: Profile` document: its layers (model/profile.ts) and its placement, written
// exactly as a bundle's (selector, cel, include, exclude) so one rule picks the sites of both.

import { type ProfileSpec, parseProfileSpec } from '../model/profile.ts';
import { validateSelector } from '../select/labels.ts';
import type { PlacementRules } from '../select/placement.ts';
import { parseFleetSpec, type SpecDocument } from './fleet-spec.ts';

export interface ProfileDocument {
  kind: 'Profile';
  name: string;
  spec: ProfileSpec;
  placement: PlacementRules;
  file: string;
  line: number;
}

type Fail = (path: readonly string[], message: string, at?: readonly string[]) => never;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Reads a Profile's spec; `fail` names the field's line (fleet-documents.ts owns the envelope). */
export function parseProfileBody(
  name: string,
  spec: Record<string, unknown>,
  doc: SpecDocument,
  fail: Fail,
): ProfileDocument {
  const placement = isRecord(spec.placement)
    ? spec.placement
    : fail(['spec', 'placement'], 'required: placement.selector ({} places the profile on every site)', [
        'spec',
      ]);
  if (!isRecord(placement.selector))
    fail(['spec', 'placement', 'selector'], 'required: a label selector ({} matches every site)', [
      'spec',
      'placement',
    ]);
  const selectorProblem = validateSelector(placement.selector as never)[0];
  if (selectorProblem)
    fail(['spec', 'placement', 'selector'], `${selectorProblem.path}: ${selectorProblem.message}`);
  // cel, include and exclude are checked by the bundle parser, which names their lines itself
  const { placement: rest } = parseFleetSpec({ placement }, doc);
  const { placement: _, ...layers } = spec;
  const parsed = parseProfileSpec(layers);
  if ('problem' in parsed) fail(['spec', ...parsed.problem.path.split('.')], parsed.problem.message);
  return {
    kind: 'Profile',
    name,
    spec: parsed as ProfileSpec,
    placement: { selector: placement.selector as PlacementRules['selector'], ...rest },
    file: doc.file,
    line: doc.line,
  };
}
