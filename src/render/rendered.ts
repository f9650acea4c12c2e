// A bundle revision rendered for one site: what the agent applies there, addressed by its digest. An
// unchanged rendering has an unchanged digest, so a site with nothing new has nothing to do.

import type { BundleApplyOptions } from '../model/apply-options.ts';
import { OutpostError } from '../model/errors.ts';
import { describeRef, type KubeObject, refOf } from '../model/manifest.ts';
import { isSealedSecret, sealedSecretForSite } from '../model/sealed-secret.ts';
import type { StackTarget } from '../model/site-stack.ts';
import type { BundleTelemetry } from '../model/telemetry-spec.ts';
import {
  type CompiledCustomization,
  compileCustomization,
  type ObjectOrigin,
  type SiteInputs,
} from './customize.ts';
import { canonicalJson, sha256Digest } from './digest.ts';
import type { Customization } from './overlays.ts';

export interface RenderedBundle {
  bundle: string;
  namespace?: string;
  /** bundles the agent should have applied first (absent when none, so older digests stay valid) */
  dependsOn?: string[];
  /** how the agent applies it (spec.apply, defaults filled in); absent from blobs of older hubs */
  options?: BundleApplyOptions;
  /** what the agent collects for this bundle (spec.telemetry); absent when nothing, so digests stay */
  telemetry?: BundleTelemetry;
  objects: KubeObject[];
}

export interface RenderInput {
  bundle: string;
  namespace?: string;
  options?: BundleApplyOptions;
  telemetry?: BundleTelemetry;
  objects: readonly KubeObject[];
  customization?: Customization;
  origins?: readonly ObjectOrigin[];
  dependsOn?: readonly string[];
}

/** The rendered document plus its canonical text and digest (the blob the agent fetches). */
export interface RenderedBlob {
  digest: string;
  content: string;
  rendered: RenderedBundle;
}

export interface BundleRenderer {
  /** sites with equal keys render to the same blob */
  keyOf(site: SiteInputs): string;
  /** throws OutpostError render_failed naming the site */
  render(site: SiteInputs): RenderedBlob;
}

const noSite: SiteInputs = { name: '', labels: {}, properties: {} };

/** Compiles a revision's customization once; render each site (or each distinct key) from it. */
export function createRenderer(input: RenderInput): BundleRenderer {
  const custom: CompiledCustomization = compileCustomization(input);
  // A SealedSecret holds values for each site: every site renders its own, carrying only its values.
  const sealed = input.objects.some(isSealedSecret);
  return {
    keyOf: sealed ? (site) => JSON.stringify([site.name, custom.keyOf(site)]) : custom.keyOf,
    render(site) {
      const objects = custom.apply(site);
      const rendered: RenderedBundle = {
        bundle: input.bundle,
        objects: sealed ? objects.map((o) => sealedForSite(o, site.name, input.bundle)) : objects,
      };
      if (input.namespace) rendered.namespace = input.namespace;
      if (input.dependsOn && input.dependsOn.length > 0) rendered.dependsOn = [...input.dependsOn];
      if (input.options) rendered.options = input.options;
      if (input.telemetry) rendered.telemetry = input.telemetry;
      const content = canonicalJson(rendered);
      return { digest: sha256Digest(content), content, rendered };
    },
  };
}

/** A SealedSecret narrowed to the site's own values; one with no value for the site fails the site alone. */
function sealedForSite(obj: KubeObject, site: string, bundle: string): KubeObject {
  if (!isSealedSecret(obj)) return obj;
  const { object, missing } = sealedSecretForSite(obj, site);
  if (missing.length > 0) {
    throw new OutpostError(
      'render_failed',
      `${describeRef(refOf(obj))} has no value sealed for site ${site} (${missing.join(', ')}); seal it again for the bundle's sites: outpost secret seal -f FILE --bundle ${bundle}`,
      { site },
    );
  }
  return object;
}

export function renderForSite(input: RenderInput, site: SiteInputs = noSite): RenderedBlob {
  return createRenderer(input).render(site);
}

export interface DesiredEntry {
  bundle: string;
  digest: string;
}

/**
 * The digest of a site's whole desired state: changes when any deployment's digest changes, or when the
 * profile's host-layer target does. A state without a target digests as it did before targets existed.
 */
export function desiredDigest(entries: readonly DesiredEntry[], stack?: StackTarget): string {
  const sorted = [...entries].sort((a, b) => (a.bundle < b.bundle ? -1 : a.bundle > b.bundle ? 1 : 0));
  const pairs = sorted.map((e) => [e.bundle, e.digest]);
  return sha256Digest(canonicalJson(stack === undefined ? pairs : { deployments: pairs, stack }));
}
