// Placement decisions, pure: given sites, bundles and the deployments that exist, which (site, bundle)
// pairs should carry which rendered digest, which must be unplaced (pruned by the agent), which cannot
// be rendered or decided for their site (those fail alone; the site keeps what it runs), and which
// wait for a chart rendering Helm has not made yet (asked for in `wanted`).

import type { BundleApplyOptions } from '../../model/apply-options.ts';
import { OutpostError } from '../../model/errors.ts';
import type { KubeObject } from '../../model/manifest.ts';
import type { BundleTelemetry } from '../../model/telemetry-spec.ts';
import {
  type ChartRenderer,
  type ChartRendering,
  createChartRenderer,
  type WantedRendering,
} from '../../render/chart-bundle.ts';
import type { ObjectOrigin } from '../../render/customize.ts';
import type { FleetPlacement } from '../../render/fleet-spec.ts';
import type { StoredHelm } from '../../render/generator-spec.ts';
import type { Customization } from '../../render/overlays.ts';
import { type BundleRenderer, createRenderer, type RenderedBlob } from '../../render/rendered.ts';
import type { LabelSelector } from '../../select/labels.ts';
import { type CompiledPlacement, compilePlacement, decidePlacement } from '../../select/placement.ts';

export interface PlacementSite {
  id: string;
  /** the site's name (what include/exclude, overlays and `${site.name}` see); defaults to id */
  name?: string;
  labels: Record<string, string>;
  properties?: Record<string, unknown>;
  active: boolean;
  /** the Kubernetes version the site reported (vMAJOR.MINOR.PATCH), which charts render for */
  kubeVersion?: string;
}

export interface PlacementBundle {
  name: string;
  revision: number;
  namespace?: string;
  selector: LabelSelector;
  /** CEL and include/exclude beyond the selector */
  placement?: FleetPlacement;
  customization?: Customization;
  origins?: readonly ObjectOrigin[];
  dependsOn?: readonly string[];
  options?: BundleApplyOptions;
  telemetry?: BundleTelemetry;
  objects: readonly KubeObject[];
  /** a chart bundle: its objects are the chart's rendering for each site (and `objects` is empty) */
  helm?: StoredHelm;
}

export interface ExistingDeployment {
  siteId: string;
  bundle: string;
  desiredDigest: string | null;
  /** why the current revision could not be rendered or placed for this site, when it could not */
  renderError?: string | null;
  /** a new pair that has shipped nothing yet because its chart rendering is being made */
  waiting?: boolean;
}

/** The message of a new deployment whose chart rendering is being made. */
export const renderingWaitMessage = 'waiting for its chart to be rendered';

export interface PlacementFailure {
  siteId: string;
  bundle: string;
  revision: number;
  error: OutpostError;
}

export interface PlacementPlan {
  /** pairs whose desired digest is new or changed (or that recovered from a failure) */
  place: Array<{ siteId: string; bundle: string; revision: number; blob: RenderedBlob }>;
  /** pairs that should no longer run: the agent prunes them, then the row goes */
  unplace: Array<{ siteId: string; bundle: string }>;
  /** pairs the revision cannot be rendered or decided for: marked Failed, the site keeps what it had */
  fail: PlacementFailure[];
  /** failure-only or waiting rows (nothing ever shipped) of pairs no longer targeted: deleted */
  forget: Array<{ siteId: string; bundle: string }>;
  /** new pairs that wait for a chart rendering; a pair already running something keeps it meanwhile */
  wait: Array<{ siteId: string; bundle: string }>;
  /** every distinct blob referenced by `place` */
  blobs: Map<string, RenderedBlob>;
  /** chart renderings some site needs that are not made yet, by input digest */
  wanted: Map<string, WantedRendering>;
}

/** A bundle revision made ready to decide and render for many sites: compiled once, cached by input. */
export interface CompiledBundle {
  bundle: PlacementBundle;
  /** undefined when the stored revision itself cannot be compiled (then `broken` says why) */
  placement?: CompiledPlacement;
  renderer?: BundleRenderer;
  /** set instead of `renderer` for a chart bundle */
  chart?: ChartRenderer;
  broken?: string;
  cache: Map<string, RenderedBlob | OutpostError>;
}

export function compileBundle(
  bundle: PlacementBundle,
  renderings: ReadonlyMap<string, ChartRendering> = new Map(),
): CompiledBundle {
  const compiled: CompiledBundle = { bundle, cache: new Map() };
  try {
    compiled.placement = compilePlacement({ selector: bundle.selector, ...(bundle.placement ?? {}) });
    const input = {
      bundle: bundle.name,
      namespace: bundle.namespace,
      objects: bundle.objects,
      customization: bundle.customization,
      origins: bundle.origins,
      dependsOn: bundle.dependsOn,
      options: bundle.options,
      telemetry: bundle.telemetry,
    };
    if (bundle.helm) compiled.chart = createChartRenderer({ ...input, helm: bundle.helm }, renderings);
    else compiled.renderer = createRenderer(input);
  } catch (e) {
    compiled.broken = (e as Error).message;
  }
  return compiled;
}

export type SiteOutcome =
  | { kind: 'untargeted' }
  | { kind: 'targeted'; blob: RenderedBlob }
  | { kind: 'failed'; error: OutpostError }
  | { kind: 'waiting'; wanted: WantedRendering };

/** Decides and renders one bundle for one site, rendering once per distinct set of site inputs. */
export function outcomeFor(c: CompiledBundle, site: PlacementSite): SiteOutcome {
  const name = site.name ?? site.id;
  if (!site.active) return { kind: 'untargeted' };
  if (c.broken !== undefined || !c.placement || !(c.renderer || c.chart)) {
    return {
      kind: 'failed',
      error: new OutpostError('bundle_invalid', `${c.bundle.name}: ${c.broken}`, { site: name }),
    };
  }
  const subject = { name, labels: site.labels, properties: site.properties ?? {} };
  const decision = decidePlacement(c.placement, subject);
  if (decision.error !== undefined) {
    return {
      kind: 'failed',
      error: new OutpostError('render_failed', `site ${name}: placement: ${decision.error}`, { site: name }),
    };
  }
  if (!decision.targeted) return { kind: 'untargeted' };
  if (c.chart) {
    try {
      const out = c.chart.render(subject, site.kubeVersion);
      return 'wanted' in out ? { kind: 'waiting', wanted: out.wanted } : { kind: 'targeted', blob: out.blob };
    } catch (e) {
      if (!(e instanceof OutpostError)) throw e;
      return { kind: 'failed', error: e };
    }
  }
  const renderer = c.renderer!;
  const key = renderer.keyOf(subject);
  let cached = c.cache.get(key);
  if (!cached) {
    try {
      cached = renderer.render(subject);
    } catch (e) {
      if (!(e instanceof OutpostError)) throw e;
      cached = e;
    }
    c.cache.set(key, cached);
  }
  if (cached instanceof OutpostError) {
    // a cached failure was rendered for another site with the same inputs: name this one
    const error =
      cached.site === name
        ? cached
        : new OutpostError(cached.code, cached.message.replaceAll(`site ${cached.site}`, `site ${name}`), {
            ...cached.location,
            site: name,
          });
    return { kind: 'failed', error };
  }
  return { kind: 'targeted', blob: cached };
}

/** The key of a (site, bundle) pair in `pinned`. */
export function pinKey(siteId: string, bundle: string): string {
  return `${siteId}\u0000${bundle}`;
}

/**
 * Plans placement for every given site × every given bundle. Bundles absent from `bundles` but present
 * in `existing` count as deleted and are unplaced. Inactive (pending or decommissioned) sites get nothing.
 * `pinned` holds a (site, bundle) pair to another revision of the bundle than its current one (keyed by
 * pinKey): a rollout keeps the sites it has not started yet on the revision they run. `renderings` are
 * the chart renderings made so far that chart bundles may need, by input digest. `compiled` carries
 * compiled revisions (and what they rendered) from one call to the next, keyed `bundle@revision`: a
 * revision is immutable, so planning a fleet chunk by chunk compiles and renders each input once. A
 * compiled chart revision reads the `renderings` it was compiled over, so calls that share `compiled`
 * share one `renderings` too, adding to it as renderings are made.
 */
export function planPlacement(
  sites: readonly PlacementSite[],
  bundles: readonly PlacementBundle[],
  existing: readonly ExistingDeployment[],
  pinned: ReadonlyMap<string, PlacementBundle> = new Map(),
  renderings: ReadonlyMap<string, ChartRendering> = new Map(),
  compiled: Map<string, CompiledBundle> = new Map(),
): PlacementPlan {
  const current = new Map<string, ExistingDeployment>();
  for (const d of existing) current.set(pinKey(d.siteId, d.bundle), d);
  const byName = new Map(bundles.map((b) => [b.name, b]));
  const compileOnce = (b: PlacementBundle): CompiledBundle => {
    const key = `${b.name}@${b.revision}`;
    let c = compiled.get(key);
    if (!c) {
      c = compileBundle(b, renderings);
      compiled.set(key, c);
    }
    return c;
  };
  const latest = bundles.map(compileOnce);
  const compiledPins = new Map<PlacementBundle, CompiledBundle>();
  for (const b of new Set(pinned.values())) compiledPins.set(b, compileOnce(b));
  const plan: PlacementPlan = {
    place: [],
    unplace: [],
    fail: [],
    forget: [],
    wait: [],
    blobs: new Map(),
    wanted: new Map(),
  };

  for (const site of sites) {
    for (const newest of latest) {
      const pin = pinned.get(pinKey(site.id, newest.bundle.name));
      const c = pin ? compiledPins.get(pin)! : newest;
      const bundle = c.bundle;
      const row = current.get(pinKey(site.id, bundle.name));
      const outcome = outcomeFor(c, site);
      if (outcome.kind === 'targeted') {
        if (row?.desiredDigest !== outcome.blob.digest || row.renderError) {
          plan.place.push({
            siteId: site.id,
            bundle: bundle.name,
            revision: bundle.revision,
            blob: outcome.blob,
          });
          plan.blobs.set(outcome.blob.digest, outcome.blob);
        }
      } else if (outcome.kind === 'failed') {
        if (row?.renderError !== outcome.error.message) {
          plan.fail.push({
            siteId: site.id,
            bundle: bundle.name,
            revision: bundle.revision,
            error: outcome.error,
          });
        }
      } else if (outcome.kind === 'waiting') {
        plan.wanted.set(outcome.wanted.digest, outcome.wanted);
        if (!row) plan.wait.push({ siteId: site.id, bundle: bundle.name });
      } else if (row?.desiredDigest) {
        plan.unplace.push({ siteId: site.id, bundle: bundle.name });
      } else if (row?.renderError || row?.waiting) {
        plan.forget.push({ siteId: site.id, bundle: bundle.name });
      }
    }
  }
  const siteIds = new Set(sites.map((s) => s.id));
  for (const d of existing) {
    if (!siteIds.has(d.siteId) || byName.has(d.bundle)) continue;
    if (d.desiredDigest) plan.unplace.push({ siteId: d.siteId, bundle: d.bundle });
    else if (d.renderError || d.waiting) plan.forget.push({ siteId: d.siteId, bundle: d.bundle });
  }
  return plan;
}
