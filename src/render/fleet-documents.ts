// Fleet documents besides bundles, written in the fleet repository next to them: SLOs (`kind: SLO`),
// named rollout strategies (`kind: RolloutStrategy`) and site profiles (`kind: Profile`), apiVersion
// outpost.dev/v1. Parsed here, purely, with the file and line of every error; a sync stores them with
// the bundles of the same commit.

import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { OutpostError } from '../model/errors.ts';
import { namedStrategies, validateStrategy } from '../model/rollout-strategy.ts';
import { SloSpec } from '../model/slo-wire.ts';
import { validateSelector } from '../select/labels.ts';
import type { SpecDocument } from './fleet-spec.ts';
import { type ProfileDocument, parseProfileBody } from './profile-document.ts';

export const fleetApiVersion = 'outpost.dev/v1';
export const fleetDocumentKinds = ['SLO', 'RolloutStrategy', 'Profile'] as const;
export type FleetDocumentKind = (typeof fleetDocumentKinds)[number];

export interface SloDocument {
  kind: 'SLO';
  name: string;
  spec: SloSpec;
  file: string;
  line: number;
  /** where spec.window is written: whether the hub keeps data that long is checked at the hub */
  windowLine: number;
}

export interface StrategyDocument {
  kind: 'RolloutStrategy';
  name: string;
  /** the strategy as written (checked; defaults are filled in when a rollout uses it) */
  strategy: Record<string, unknown>;
  file: string;
  line: number;
}

export type FleetDocument = SloDocument | StrategyDocument | ProfileDocument;

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** What each SLO field takes, said the way an operator writes it. */
const sloFields: Record<string, string> = {
  bundle: 'the name of the bundle whose SLIs count',
  selector: 'a label selector narrowing the sites that count',
  objective: 'a fraction between 0 and 1, such as 0.999',
  window: 'a length in minutes, hours or days, such as 28d, 6h or 30m',
  sli: '{kind: errors} or {kind: latency}',
  description: 'text of at most 1024 characters',
};

/** The first problem of an SLO's spec against the API's own schema, by field. */
function sloProblem(
  spec: Record<string, unknown>,
): { field: string; message: string; missing?: boolean } | undefined {
  for (const key of Object.keys(spec)) {
    if (!Object.hasOwn(sloFields, key))
      return { field: key, message: `unknown field (known: ${Object.keys(sloFields).join(', ')})` };
  }
  const properties = SloSpec.properties as Record<string, TSchema>;
  for (const [field, hint] of Object.entries(sloFields)) {
    const v = spec[field];
    if (v === undefined) {
      if ((SloSpec.required as readonly string[] | undefined)?.includes(field))
        return { field, message: `required: ${hint}`, missing: true };
    } else if (!Value.Check(properties[field]!, v)) return { field, message: hint };
  }
  return undefined;
}

/** Whether a parsed YAML document is an SLO, RolloutStrategy or Profile document. */
export function isFleetDocument(v: unknown): boolean {
  return (
    isRecord(v) &&
    v.apiVersion === fleetApiVersion &&
    (fleetDocumentKinds as readonly unknown[]).includes(v.kind)
  );
}

/**
 * Reads an SLO, RolloutStrategy or Profile document; errors name the field's line.
 * @example parseFleetDocument({ apiVersion: 'outpost.dev/v1', kind: 'SLO', metadata: { name: 'pos' }, spec: {…} }, doc)
 */
export function parseFleetDocument(value: Record<string, unknown>, doc: SpecDocument): FleetDocument {
  // `at` is where the problem is written: a missing field is reported at its parent
  const fail = (path: readonly string[], message: string, at: readonly string[] = path): never => {
    const shown = path.length > 0 ? `${path.join('.')}: ` : '';
    throw new OutpostError('bundle_invalid', `${value.kind} ${shown}${message}`, {
      file: doc.file,
      line: doc.lineOf(at),
    });
  };
  for (const key of Object.keys(value)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec'].includes(key))
      fail([key], 'unknown field (known: apiVersion, kind, metadata, spec)');
  }
  const metadata = isRecord(value.metadata) ? value.metadata : fail(['metadata'], 'needs metadata.name');
  const name = metadata.name;
  if (typeof name !== 'string' || !dnsLabel.test(name) || name.length > 63) {
    fail(['metadata', 'name'], 'a DNS label: 1-63 lower-case letters, digits and dashes');
  }
  const spec = isRecord(value.spec) ? value.spec : fail(['spec'], 'needs a spec mapping');
  const at = { file: doc.file, line: doc.line };
  if (value.kind === 'SLO') {
    const slo = { name, ...spec } as SloSpec;
    const problem = sloProblem(spec);
    if (problem) fail(['spec', problem.field], problem.message, problem.missing ? ['spec'] : undefined);
    const selectorProblem = slo.selector ? validateSelector(slo.selector as never)[0] : undefined;
    if (selectorProblem) fail(['spec', 'selector'], `${selectorProblem.path}: ${selectorProblem.message}`);
    return {
      kind: 'SLO',
      name: name as string,
      spec: slo,
      ...at,
      windowLine: doc.lineOf(['spec', 'window']),
    };
  }
  if (value.kind === 'Profile') return parseProfileBody(name as string, spec, doc, fail);
  if (Object.hasOwn(namedStrategies, name as string)) {
    fail(['metadata', 'name'], `${name} is a built-in strategy; give yours another name`);
  }
  const checked = validateStrategy(spec);
  if ('problems' in checked) {
    const problem = checked.problems[0]!;
    fail(['spec', ...problem.path.split(/[.[\]]+/).filter((p) => p !== '')], problem.message);
  }
  return { kind: 'RolloutStrategy', name: name as string, strategy: spec, ...at };
}
