// Overlays: variants of a bundle's manifests for the sites an overlay selects (by labels or by name),
// applied in order — image overrides, JSON Patch (RFC 6902) and merge patch (RFC 7386) on the objects
// a target names, plus values for `${values.*}` placeholders.

import { applyPatch, type Operation } from 'rfc6902';
import type { KubeObject } from '../model/manifest.ts';
import { type LabelSelector, matchesSelector } from '../select/labels.ts';
import { mergePatch } from './merge-patch.ts';
import { isSecret } from './redact.ts';

export interface ImageOverride {
  /** the image name to match, without tag or digest (e.g. registry.example.com/pos/till) */
  name: string;
  newName?: string;
  newTag?: string;
  /** sha256:…; replaces any tag */
  digest?: string;
}

/** Which objects an overlay's patches apply to; every given field must match. */
export interface ObjectTarget {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface Origin {
  file: string;
  line: number;
}

export interface Overlay {
  /** sites whose labels match; without selector or sites the overlay applies to every site */
  selector?: LabelSelector;
  /** sites by name */
  sites?: string[];
  target?: ObjectTarget;
  images?: ImageOverride[];
  jsonPatch?: Operation[];
  mergePatch?: Record<string, unknown>;
  values?: Record<string, unknown>;
  /** where the overlay is written, for messages; not part of what it means */
  origin?: Origin;
}

export interface Customization {
  /** defaults for `${values.*}`; overlays that apply to a site merge their values over these */
  values?: Record<string, unknown>;
  overlays?: Overlay[];
}

export function overlayApplies(
  overlay: Overlay,
  site: { name: string; labels: Record<string, string> },
): boolean {
  if (overlay.sites) return overlay.sites.includes(site.name);
  if (overlay.selector) return matchesSelector(overlay.selector, site.labels);
  return true;
}

export function targets(target: ObjectTarget | undefined, obj: KubeObject): boolean {
  if (!target) return true;
  return (
    (target.apiVersion === undefined || target.apiVersion === obj.apiVersion) &&
    (target.kind === undefined || target.kind === obj.kind) &&
    (target.name === undefined || target.name === obj.metadata.name) &&
    (target.namespace === undefined || target.namespace === obj.metadata.namespace)
  );
}

/** Splits `registry:5000/app:1.2@sha256:…` into name, tag and digest (the port is part of the name). */
export function parseImage(image: string): { name: string; tag?: string; digest?: string } {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { name: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function overrideImage(image: string, overrides: readonly ImageOverride[]): string {
  const ref = parseImage(image);
  const o = overrides.find((x) => x.name === ref.name);
  if (!o) return image;
  const name = o.newName ?? ref.name;
  if (o.digest) return `${name}@${o.digest}`;
  const tag = o.newTag ?? ref.tag;
  // a new tag says which image to run, so a digest pinning the old one no longer applies
  if (o.newTag) return `${name}:${tag}`;
  return `${name}${tag !== undefined ? `:${tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

const containerLists = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/** Rewrites `image` in every container list anywhere in the object (pods, workloads, jobs, CRs alike). */
function overrideImages(node: unknown, overrides: readonly ImageOverride[]): void {
  if (Array.isArray(node)) {
    for (const item of node) overrideImages(item, overrides);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const rec = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(rec)) {
    if (containerLists.has(key) && Array.isArray(value)) {
      for (const c of value) {
        if (c && typeof c === 'object' && typeof (c as Record<string, unknown>).image === 'string') {
          const container = c as Record<string, unknown>;
          container.image = overrideImage(container.image as string, overrides);
        }
      }
    }
    overrideImages(value, overrides);
  }
}

function describe(obj: KubeObject): string {
  const ns = obj.metadata.namespace;
  return `${obj.kind} ${ns ? `${ns}/` : ''}${obj.metadata.name}`;
}

/**
 * Applies one overlay's object changes to copies of the objects it targets. Throws an Error whose
 * message names the object and the failing patch operation.
 */
export function applyOverlay(objects: readonly KubeObject[], overlay: Overlay): KubeObject[] {
  if (!overlay.images && !overlay.jsonPatch && !overlay.mergePatch) return [...objects];
  return objects.map((original) => {
    if (!targets(overlay.target, original)) return original;
    let obj = structuredClone(original);
    if (overlay.images) overrideImages(obj, overlay.images);
    if (overlay.jsonPatch) {
      const results = applyPatch(obj, overlay.jsonPatch);
      const failed = results.findIndex((r) => r !== null);
      if (failed >= 0) {
        const op = overlay.jsonPatch[failed]!;
        const error = results[failed]!;
        // a failed test quotes both values, and a Secret's must not reach an operator-facing message
        const reason =
          error.name === 'TestError' && isSecret(original)
            ? `the value differs from the one tested (a Secret's values are not shown)`
            : error.message;
        throw new Error(`jsonPatch[${failed}] (${op.op} ${op.path}) on ${describe(original)}: ${reason}`);
      }
    }
    if (overlay.mergePatch) obj = mergePatch(obj, overlay.mergePatch) as KubeObject;
    return obj;
  });
}
