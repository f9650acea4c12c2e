// How the dashboard reads a profile: a revision's layers in one line, and the sites off their profile
// as rows (site, state, the layer that is off, its nodes or bundles, why), the worst first. Pure.

import type { SiteConformanceView } from '../model/profile-wire.ts';

/** The layers in the order a site upgrades them, as the Profiles page lists them. */
export const layerOrder = ['os', 'kubernetes', 'agent', 'addons', 'apps'] as const;

/** Where a layer comes in the upgrade order; a layer this dashboard does not know goes last. */
export function layerRank(layer: string): number {
  const i = (layerOrder as readonly string[]).indexOf(layer);
  return i < 0 ? layerOrder.length : i;
}

/** The conformance states, worst first: the order the page counts and lists them in. */
export const conformanceOrder = ['Behind', 'Upgrading', 'Ahead', 'Unknown', 'Conformant'] as const;

interface LayeredSpec {
  kubernetes?: { distribution?: string; version?: string };
  os?: { image?: string; version?: string };
  agent?: { version?: string };
  addons?: Array<{ bundle?: string; revision?: number }>;
  apps?: Array<{ bundle?: string; revision?: number }>;
}

function bundles(entries: LayeredSpec['addons']): string {
  return (entries ?? []).map((e) => (e.revision ? `${e.bundle}@${e.revision}` : e.bundle)).join(', ');
}

/**
 * A revision's layers as one line, in upgrade order; a layer the profile leaves out is not named.
 * @example revisionLayers({ kubernetes: { distribution: 'k3s', version: 'v1.32.1+k3s1' } }) // 'Kubernetes k3s v1.32.1+k3s1'
 */
export function revisionLayers(spec: Record<string, unknown>): string {
  const s = spec as LayeredSpec;
  const parts: string[] = [];
  if (s.os) parts.push(`OS ${s.os.image} ${s.os.version}`);
  if (s.kubernetes) parts.push(`Kubernetes ${s.kubernetes.distribution} ${s.kubernetes.version}`);
  if (s.agent) parts.push(`agent ${s.agent.version}`);
  if (s.addons?.length) parts.push(`add-ons ${bundles(s.addons)}`);
  if (s.apps?.length) parts.push(`apps ${bundles(s.apps)}`);
  return parts.join(' · ') || 'no layers';
}

export interface OffProfileRow {
  site: string;
  state: SiteConformanceView['state'];
  revision: number;
  /** the layers that are off, worst first, each with what is behind and why */
  layers: Array<{ layer: string; state: string; behind: string[]; detail: string }>;
}

const rank = (state: string) => {
  const i = (conformanceOrder as readonly string[]).indexOf(state);
  return i < 0 ? conformanceOrder.length : i;
};

/**
 * The sites not Conformant, worst state first and by name within a state, each with only its layers
 * that are off: what an operator reads to see who is behind and why.
 */
export function offProfile(sites: readonly SiteConformanceView[]): OffProfileRow[] {
  return sites
    .filter((s) => s.state !== 'Conformant')
    .map((s) => ({
      site: s.site,
      state: s.state,
      revision: s.revision,
      layers: s.layers
        .filter((l) => l.state !== 'Conformant')
        .sort((a, b) => rank(a.state) - rank(b.state))
        .map((l) => ({ layer: l.layer, state: l.state, behind: l.behind, detail: l.detail })),
    }))
    .sort((a, b) => rank(a.state) - rank(b.state) || (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
}

/** One page of a list the hub sends whole, with the cursor of the next page (an offset) or null. */
export function pageOf<T>(items: readonly T[], cursor: string | undefined, size: number) {
  const from = Math.max(0, Number(cursor ?? 0) || 0);
  const to = from + size;
  return { items: items.slice(from, to), nextCursor: to < items.length ? String(to) : null };
}
