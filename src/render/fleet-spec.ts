// The fleet parts of a Bundle document beyond its selector: CEL and include/exclude placement, values
// and overlays, dependsOn and the rollout reference. Checked field by field so an error names the
// line to fix; what only a site can answer (a missing label) is left to rendering.

import type { Operation } from 'rfc6902';
import { OutpostError } from '../model/errors.ts';
import type { KubeObject } from '../model/manifest.ts';
import { namedStrategies, strategyNamed, validateStrategy } from '../model/rollout-strategy.ts';
import { type BundleTelemetry, parseTelemetrySpec } from '../model/telemetry-spec.ts';
import { CelCompileError, compileCel } from '../select/cel.ts';
import { validateSelector } from '../select/labels.ts';
import type { Customization, ImageOverride, ObjectTarget, Overlay } from './overlays.ts';
import { targets } from './overlays.ts';
import { FieldError, fieldPath, findPlaceholders } from './placeholders.ts';

export interface FleetPlacement {
  cel?: string;
  include?: string[];
  exclude?: string[];
}

export interface FleetSpec {
  placement: FleetPlacement;
  customization: Customization;
  dependsOn: string[];
  /** a rollout strategy by name or inline; stored with the revision, interpreted by rollouts */
  rollout?: string | Record<string, unknown>;
  /** what the agent collects and forwards (spec.telemetry); carried to the site in the rendered bundle */
  telemetry?: BundleTelemetry;
}

/** What the parser needs from the Bundle document: where it is and the line of any field. */
export interface SpecDocument {
  file: string;
  line: number;
  lineOf: (path: readonly string[]) => number;
}

export const fleetSpecFields = ['values', 'overlays', 'dependsOn', 'rollout', 'telemetry'] as const;
const placementFields = ['selector', 'cel', 'include', 'exclude'];
const overlayFields = ['selector', 'sites', 'target', 'images', 'jsonPatch', 'mergePatch', 'values'];
const jsonPatchOps = ['add', 'remove', 'replace', 'move', 'copy', 'test'];
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const prototypeKeys = /(^|\/)(__proto__|constructor|prototype)(\/|$)/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Reads the fleet parts of a Bundle's spec. `strategies` names the rollout strategies beyond the
 * built-in ones that spec.rollout may name (those stored at the hub or written beside the bundle).
 */
export function parseFleetSpec(
  spec: Record<string, unknown>,
  doc: SpecDocument,
  strategies: ReadonlySet<string> = new Set(),
): FleetSpec {
  const fail = (path: readonly (string | number)[], message: string): never => {
    throw new OutpostError('bundle_invalid', `${['spec', ...path].map(String).join('.')}: ${message}`, {
      file: doc.file,
      line: doc.lineOf(['spec', ...path.map(String)]),
    });
  };
  const names = (v: unknown, path: (string | number)[]): string[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !dnsLabel.test(x))) {
      fail(path, 'a list of names (DNS labels)');
    }
    return v as string[];
  };

  const placement: FleetPlacement = {};
  const p = isRecord(spec.placement) ? spec.placement : {};
  for (const key of Object.keys(p)) {
    if (!placementFields.includes(key))
      fail(['placement', key], `unknown field (known: ${placementFields.join(', ')})`);
  }
  if (p.cel !== undefined) {
    if (typeof p.cel !== 'string' || p.cel.trim() === '')
      fail(['placement', 'cel'], 'a CEL expression (a string)');
    try {
      compileCel(p.cel as string);
    } catch (e) {
      if (e instanceof CelCompileError) fail(['placement', 'cel'], e.message);
      throw e;
    }
    placement.cel = p.cel as string;
  }
  if (p.include !== undefined) placement.include = names(p.include, ['placement', 'include']);
  if (p.exclude !== undefined) placement.exclude = names(p.exclude, ['placement', 'exclude']);

  const customization: Customization = {};
  if (spec.values !== undefined) {
    if (!isRecord(spec.values)) fail(['values'], 'a mapping of names to values');
    customization.values = spec.values as Record<string, unknown>;
  }
  if (spec.overlays !== undefined) {
    if (!Array.isArray(spec.overlays)) fail(['overlays'], 'a list of overlays');
    customization.overlays = (spec.overlays as unknown[]).map((o, i) =>
      parseOverlay(o, ['overlays', i], fail, doc),
    );
  }

  let dependsOn: string[] = [];
  if (spec.dependsOn !== undefined) dependsOn = names(spec.dependsOn, ['dependsOn']);

  const out: FleetSpec = { placement, customization, dependsOn };
  if (spec.rollout !== undefined) {
    if (typeof spec.rollout === 'string' ? !dnsLabel.test(spec.rollout) : !isRecord(spec.rollout)) {
      fail(['rollout'], 'the name of a rollout strategy, or one written inline as a mapping');
    }
    if (
      typeof spec.rollout === 'string' &&
      strategyNamed(spec.rollout) === undefined &&
      !strategies.has(spec.rollout)
    ) {
      const known = [...Object.keys(namedStrategies), ...[...strategies].sort()];
      fail(
        ['rollout'],
        `no strategy named "${spec.rollout}"; use one of ${known.join(', ')}, write a RolloutStrategy document, or write one inline`,
      );
    }
    if (isRecord(spec.rollout)) {
      const checked = validateStrategy(spec.rollout);
      if ('problems' in checked) {
        const problem = checked.problems[0]!;
        const at = problem.path.split(/[.[\]]+/).filter((p) => p !== '');
        fail(['rollout', ...at], problem.message);
      }
    }
    out.rollout = spec.rollout as FleetSpec['rollout'];
  }
  const telemetry = parseTelemetrySpec(spec.telemetry);
  if (telemetry.problem) {
    const { path, message } = telemetry.problem;
    fail(['telemetry', ...(path ? path.split('.') : [])], message);
  } else if (telemetry.value) out.telemetry = telemetry.value;
  return out;
}

type Fail = (path: readonly (string | number)[], message: string) => never;

function parseOverlay(v: unknown, at: (string | number)[], fail: Fail, doc: SpecDocument): Overlay {
  if (!isRecord(v)) return fail(at, 'an overlay is a mapping');
  for (const key of Object.keys(v)) {
    if (!overlayFields.includes(key))
      fail([...at, key], `unknown field (known: ${overlayFields.join(', ')})`);
  }
  const overlay: Overlay = { origin: { file: doc.file, line: doc.lineOf(['spec', ...at.map(String)]) } };
  if (v.selector !== undefined && v.sites !== undefined) fail(at, 'give selector or sites, not both');
  if (v.selector !== undefined) {
    if (!isRecord(v.selector)) fail([...at, 'selector'], 'a label selector');
    const problem = validateSelector(v.selector)[0];
    if (problem) fail([...at, 'selector'], `${problem.path}: ${problem.message}`);
    overlay.selector = v.selector as Overlay['selector'];
  }
  if (v.sites !== undefined) {
    if (!Array.isArray(v.sites) || v.sites.some((s) => typeof s !== 'string'))
      fail([...at, 'sites'], 'a list of site names');
    overlay.sites = v.sites as string[];
  }
  if (v.target !== undefined) {
    const t = v.target;
    if (!isRecord(t) || Object.keys(t).length === 0)
      fail([...at, 'target'], 'a mapping of kind, name, namespace, apiVersion');
    for (const [key, value] of Object.entries(t as Record<string, unknown>)) {
      if (!['apiVersion', 'kind', 'name', 'namespace'].includes(key))
        fail([...at, 'target', key], 'unknown field (known: apiVersion, kind, name, namespace)');
      if (typeof value !== 'string') fail([...at, 'target', key], 'a string');
    }
    overlay.target = t as ObjectTarget;
  }
  if (v.images !== undefined) {
    if (!Array.isArray(v.images)) fail([...at, 'images'], 'a list of {name, newName, newTag, digest}');
    overlay.images = (v.images as unknown[]).map((img, j) => {
      const here = [...at, 'images', j];
      if (!isRecord(img) || typeof img.name !== 'string' || img.name === '')
        return fail(here, 'needs name: the image to override');
      for (const [key, value] of Object.entries(img)) {
        if (!['name', 'newName', 'newTag', 'digest'].includes(key))
          fail([...here, key], 'unknown field (known: name, newName, newTag, digest)');
        if (typeof value !== 'string' || value === '') fail([...here, key], 'a non-empty string');
      }
      if (img.newName === undefined && img.newTag === undefined && img.digest === undefined) {
        fail(here, 'give newName, newTag or digest');
      }
      return img as unknown as ImageOverride;
    });
  }
  if (v.jsonPatch !== undefined) {
    if (!Array.isArray(v.jsonPatch)) fail([...at, 'jsonPatch'], 'a list of JSON Patch operations (RFC 6902)');
    (v.jsonPatch as unknown[]).forEach((op, j) => {
      const here = [...at, 'jsonPatch', j];
      if (!isRecord(op) || !jsonPatchOps.includes(op.op as string))
        fail(here, `op is one of ${jsonPatchOps.join(', ')}`);
      const o = op as Record<string, unknown>;
      for (const key of ['path', ...(o.op === 'move' || o.op === 'copy' ? ['from'] : [])]) {
        const ptr = o[key];
        if (typeof ptr !== 'string' || (ptr !== '' && !ptr.startsWith('/')))
          fail([...here, key], 'a JSON pointer such as /spec/replicas');
        if (prototypeKeys.test(ptr as string))
          fail([...here, key], 'may not name __proto__, constructor or prototype');
      }
      if ((o.op === 'add' || o.op === 'replace' || o.op === 'test') && !('value' in o))
        fail(here, `${o.op} needs a value`);
    });
    overlay.jsonPatch = v.jsonPatch as Operation[];
  }
  if (v.mergePatch !== undefined) {
    if (!isRecord(v.mergePatch))
      fail([...at, 'mergePatch'], 'a mapping merged into each target object (RFC 7386)');
    overlay.mergePatch = v.mergePatch as Record<string, unknown>;
  }
  if (v.values !== undefined) {
    if (!isRecord(v.values)) fail([...at, 'values'], 'a mapping of names to values');
    overlay.values = v.values as Record<string, unknown>;
  }
  if ((overlay.jsonPatch || overlay.mergePatch) && !overlay.target) {
    fail(at, 'jsonPatch and mergePatch need a target (kind, name, …) saying which objects they change');
  }
  if (!overlay.images && !overlay.jsonPatch && !overlay.mergePatch && !overlay.values) {
    fail(at, 'an overlay changes something: give images, jsonPatch, mergePatch or values');
  }
  return overlay;
}

/**
 * Checks a bundle's customization against its manifests, before any site is involved: every
 * placeholder is well formed and names a value the bundle defines, and every overlay target names
 * at least one object (unless `targets` is off: a chart's objects are known only once it renders).
 * Returns the lines of placeholder fields per object, for later messages.
 */
export function checkCustomization(
  c: Customization,
  objects: ReadonlyArray<{
    object: KubeObject;
    file: string;
    line: number;
    lineOf?: (path: readonly string[]) => number;
  }>,
  doc: { file: string; line: number },
  opts: { targets: boolean } = { targets: true },
): Array<Record<string, number>> {
  const known = new Set(Object.keys(c.values ?? {}));
  for (const o of c.overlays ?? []) for (const k of Object.keys(o.values ?? {})) known.add(k);
  const checkValue = (path: readonly string[], text: string, where: { file: string; line: number }) => {
    if (path[0] === 'values' && !known.has(path[1]!)) {
      throw new OutpostError(
        'bundle_invalid',
        `${text}: no value "${path[1]}" in spec.values or any overlay's values`,
        where,
      );
    }
  };
  const fields = objects.map((o) => {
    const lines: Record<string, number> = {};
    let found: ReturnType<typeof findPlaceholders>;
    try {
      found = findPlaceholders(o.object);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      throw new OutpostError('manifest_invalid', `${fieldPath(e.at)}: ${e.message}`, {
        file: o.file,
        line: o.lineOf?.(e.at.map(String)) ?? o.line,
      });
    }
    for (const f of found) {
      const field = fieldPath(f.at);
      const line = o.lineOf?.(f.at.map(String)) ?? o.line;
      lines[field] = line;
      for (const p of f.placeholders) checkValue(p.path, p.text, { file: o.file, line });
    }
    return lines;
  });
  (c.overlays ?? []).forEach((overlay, i) => {
    const where = overlay.origin ?? { file: doc.file, line: doc.line };
    let found: ReturnType<typeof findPlaceholders>;
    try {
      found = findPlaceholders([overlay.images, overlay.jsonPatch, overlay.mergePatch]);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      throw new OutpostError('bundle_invalid', `spec.overlays[${i}]: ${e.message}`, where);
    }
    for (const f of found) for (const p of f.placeholders) checkValue(p.path, p.text, where);
    if (opts.targets && overlay.target && !objects.some((o) => targets(overlay.target, o.object))) {
      throw new OutpostError(
        'bundle_invalid',
        `spec.overlays[${i}].target ${JSON.stringify(overlay.target)} matches no object of this bundle`,
        where,
      );
    }
  });
  return fields;
}
