// Per-site customization of a bundle revision: the overlays that apply to the site (in order), then
// placeholder substitution with the site's labels, properties and name and the merged values.
// Compiled once per revision; `keyOf` names exactly the site inputs a rendering depends on, so a fleet
// of 10,000 sites renders once per distinct input set rather than once per site.

import { OutpostError } from '../model/errors.ts';
import { describeRef, type KubeObject, refKey, refOf } from '../model/manifest.ts';
import { mergePatch } from './merge-patch.ts';
import { applyOverlay, type Customization, type Overlay, overlayApplies } from './overlays.ts';
import { FieldError, fieldPath, findPlaceholders, lookup, type Scope, substitute } from './placeholders.ts';

export interface SiteInputs {
  name: string;
  labels: Readonly<Record<string, string>>;
  properties: Readonly<Record<string, unknown>>;
}

/** Where an object was written: its document, and the lines of its fields that hold placeholders. */
export interface ObjectOrigin {
  file: string;
  line: number;
  fields?: Record<string, number>;
}

export interface CustomizeInput {
  objects: readonly KubeObject[];
  customization?: Customization;
  origins?: readonly ObjectOrigin[];
}

export interface CompiledCustomization {
  /** sites with equal keys get equal renderings */
  keyOf(site: SiteInputs): string;
  /** the site's objects; throws OutpostError render_failed naming the site (and file:line when known) */
  apply(site: SiteInputs): KubeObject[];
}

const missingMark = '\u0000missing';

export function compileCustomization(input: CustomizeInput): CompiledCustomization {
  const overlays: readonly Overlay[] = input.customization?.overlays ?? [];
  // Every site input any placeholder reads, wherever it is written (manifests or overlays).
  const refs = new Map<string, string[]>();
  let templated = false;
  const collect = (node: unknown) => {
    for (const found of findPlaceholders(node)) {
      templated = true;
      for (const p of found.placeholders) if (p.path[0] === 'site') refs.set(JSON.stringify(p.path), p.path);
    }
  };
  for (const obj of input.objects) collect(obj);
  for (const o of overlays) collect([o.images, o.jsonPatch, o.mergePatch]);
  const refPaths = [...refs.values()];

  const keyOf = (site: SiteInputs): string => {
    if (overlays.length === 0 && refPaths.length === 0) return '';
    const scope = { site, values: {} };
    const mask = overlays.map((o) => (overlayApplies(o, siteForMatch(site)) ? '1' : '0')).join('');
    return JSON.stringify([mask, refPaths.map((p) => lookup(p, scope) ?? missingMark)]);
  };

  const apply = (site: SiteInputs): KubeObject[] => {
    // Nothing to customize: the objects as parsed, which are already known to be valid and unique.
    if (overlays.length === 0 && !templated) return [...input.objects];
    const matched = overlays.filter((o) => overlayApplies(o, siteForMatch(site)));
    const values = valuesForSite(input.customization ?? {}, site);
    let objects: KubeObject[] = [...input.objects];
    for (const o of matched) {
      try {
        objects = applyOverlay(objects, o);
      } catch (e) {
        throw new OutpostError('render_failed', `site ${site.name}: overlay ${(e as Error).message}`, {
          site: site.name,
          ...(o.origin ?? {}),
        });
      }
    }
    const scope: Scope = { site, values };
    const out = objects.map((obj, i) => {
      try {
        return substitute(obj, scope) as KubeObject;
      } catch (e) {
        if (!(e instanceof FieldError)) throw e;
        const field = fieldPath(e.at);
        const origin = input.origins?.[i];
        throw new OutpostError('render_failed', `${describeRef(refOf(obj))} ${field}: ${e.message}`, {
          site: site.name,
          ...(origin ? { file: origin.file, line: origin.fields?.[field] ?? origin.line } : {}),
        });
      }
    });
    checkObjects(out, site, input.origins);
    return out;
  };
  return { keyOf, apply };
}

/** The bundle's values for a site: spec.values, then each overlay that applies to the site, in order. */
export function valuesForSite(customization: Customization, site: SiteInputs): Record<string, unknown> {
  let values: unknown = customization.values ?? {};
  for (const o of customization.overlays ?? []) {
    if (o.values && overlayApplies(o, siteForMatch(site))) values = mergePatch(values, o.values);
  }
  return values as Record<string, unknown>;
}

function siteForMatch(site: SiteInputs): { name: string; labels: Record<string, string> } {
  return { name: site.name, labels: site.labels as Record<string, string> };
}

/** A rendered object must still be one object Kubernetes can name, and names must stay unique. */
function checkObjects(
  objects: readonly KubeObject[],
  site: SiteInputs,
  origins?: readonly ObjectOrigin[],
): void {
  const seen = new Set<string>();
  objects.forEach((obj, i) => {
    const where = origins?.[i] ? { file: origins[i]!.file, line: origins[i]!.line } : {};
    const fail = (message: string): never => {
      throw new OutpostError('render_failed', `site ${site.name}: ${message}`, { site: site.name, ...where });
    };
    if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') fail('an object lost its apiVersion');
    if (typeof obj.kind !== 'string' || obj.kind === '') fail('an object lost its kind');
    if (obj.metadata === null || typeof obj.metadata !== 'object') fail(`${obj.kind} lost its metadata`);
    if (typeof obj.metadata.name !== 'string' || obj.metadata.name === '')
      fail(`${obj.kind} has no metadata.name`);
    const key = refKey(refOf(obj));
    if (seen.has(key)) fail(`${describeRef(refOf(obj))} appears twice after customization`);
    seen.add(key);
  });
}
