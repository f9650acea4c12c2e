// A bundle revision rendered for one site: what the agent applies there, addressed by its digest. An
// unchanged rendering has an unchanged digest, so a site with nothing new has nothing to do.

import type { BundleApplyOptions } from '../model/apply-options.ts';
import type { KubeObject } from '../model/manifest.ts';
import { canonicalJson, sha256Digest } from './digest.ts';

export interface RenderedBundle {
  bundle: string;
  namespace?: string;
  /** how the agent applies it (spec.apply, defaults filled in); absent from blobs of older hubs */
  options?: BundleApplyOptions;
  objects: KubeObject[];
}

export interface RenderInput {
  bundle: string;
  namespace?: string;
  options?: BundleApplyOptions;
  objects: readonly KubeObject[];
}

/** The rendered document plus its canonical text and digest (the blob the agent fetches). */
export interface RenderedBlob {
  digest: string;
  content: string;
  rendered: RenderedBundle;
}

export function renderForSite(input: RenderInput): RenderedBlob {
  // Per-site customization (templates, overlays) arrives with the fleet-definition issue; until then a
  // revision renders the same for every site, and the digest already has the right shape.
  const rendered: RenderedBundle = { bundle: input.bundle, objects: [...input.objects] };
  if (input.namespace) rendered.namespace = input.namespace;
  if (input.options) rendered.options = input.options;
  const content = canonicalJson(rendered);
  return { digest: sha256Digest(content), content, rendered };
}

export interface DesiredEntry {
  bundle: string;
  digest: string;
}

/** The digest of a site's whole desired state: changes when any deployment's digest changes. */
export function desiredDigest(entries: readonly DesiredEntry[]): string {
  const sorted = [...entries].sort((a, b) => (a.bundle < b.bundle ? -1 : a.bundle > b.bundle ? 1 : 0));
  return sha256Digest(canonicalJson(sorted.map((e) => [e.bundle, e.digest])));
}
