// Placement decisions, pure: given sites, bundles and the deployments that exist, which (site, bundle)
// pairs should carry which rendered digest, and which must be unplaced (pruned by the agent).

import type { BundleApplyOptions } from '../../model/apply-options.ts';
import type { KubeObject } from '../../model/manifest.ts';
import { type RenderedBlob, renderForSite } from '../../render/rendered.ts';
import { type LabelSelector, matchesSelector } from '../../select/labels.ts';

export interface PlacementSite {
  id: string;
  labels: Record<string, string>;
  active: boolean;
}

export interface PlacementBundle {
  name: string;
  revision: number;
  namespace?: string;
  selector: LabelSelector;
  options?: BundleApplyOptions;
  objects: readonly KubeObject[];
}

export interface ExistingDeployment {
  siteId: string;
  bundle: string;
  desiredDigest: string | null;
}

export interface PlacementPlan {
  /** pairs whose desired digest is new or changed */
  place: Array<{ siteId: string; bundle: string; revision: number; blob: RenderedBlob }>;
  /** pairs that should no longer run: the agent prunes them, then the row goes */
  unplace: Array<{ siteId: string; bundle: string }>;
  /** every distinct blob referenced by `place` */
  blobs: Map<string, RenderedBlob>;
}

/**
 * Plans placement for every given site × every given bundle. Bundles absent from `bundles` but present
 * in `existing` count as deleted and are unplaced. Inactive (pending or decommissioned) sites get nothing.
 */
export function planPlacement(
  sites: readonly PlacementSite[],
  bundles: readonly PlacementBundle[],
  existing: readonly ExistingDeployment[],
): PlacementPlan {
  const current = new Map<string, string | null>();
  for (const d of existing) current.set(`${d.siteId}\u0000${d.bundle}`, d.desiredDigest);
  const byName = new Map(bundles.map((b) => [b.name, b]));
  const renders = new Map<string, RenderedBlob>();
  const plan: PlacementPlan = { place: [], unplace: [], blobs: new Map() };

  for (const site of sites) {
    for (const bundle of bundles) {
      const key = `${site.id}\u0000${bundle.name}`;
      const has = current.get(key);
      if (site.active && matchesSelector(bundle.selector, site.labels)) {
        // Rendering does not depend on the site yet, so one render per bundle revision serves all.
        let blob = renders.get(bundle.name);
        if (!blob) {
          blob = renderForSite({
            bundle: bundle.name,
            namespace: bundle.namespace,
            options: bundle.options,
            objects: bundle.objects,
          });
          renders.set(bundle.name, blob);
        }
        if (has !== blob.digest) {
          plan.place.push({ siteId: site.id, bundle: bundle.name, revision: bundle.revision, blob });
          plan.blobs.set(blob.digest, blob);
        }
      } else if (has) {
        plan.unplace.push({ siteId: site.id, bundle: bundle.name });
      }
    }
  }
  const siteIds = new Set(sites.map((s) => s.id));
  for (const d of existing) {
    if (d.desiredDigest && siteIds.has(d.siteId) && !byName.has(d.bundle)) {
      plan.unplace.push({ siteId: d.siteId, bundle: d.bundle });
    }
  }
  return plan;
}
