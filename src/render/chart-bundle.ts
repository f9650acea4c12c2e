// A chart bundle rendered for one site without running Helm: the site's chart inputs (values after its
// placeholders, its Kubernetes version) name a rendering Helm made earlier, looked up by digest; its
// objects then get the bundle's overlays and placeholders like written manifests. A rendering not made
// yet is asked for; one Helm refused fails the site with Helm's message and the chart file.

import { agentBundleProblem } from '../model/agent-release.ts';
import type { ErrorCode } from '../model/errors.ts';
import { OutpostError } from '../model/errors.ts';
import type { KubeObject } from '../model/manifest.ts';
import { type ObjectOrigin, type SiteInputs, valuesForSite } from './customize.ts';
import { checkCustomization } from './fleet-spec.ts';
import { type ChartInputs, chartInputDigest, chartInputsFor, type StoredHelm } from './generator-spec.ts';
import { type BundleRenderer, createRenderer, type RenderedBlob, type RenderInput } from './rendered.ts';

/** What Helm made of one set of chart inputs: the objects with where each was written, or its refusal. */
export type ChartRendering =
  | { objects: KubeObject[]; origins: ObjectOrigin[] }
  | { error: { code: ErrorCode; message: string; file?: string; line?: number } };

/** A rendering placement needs and nobody has made yet. */
export interface WantedRendering {
  digest: string;
  inputs: ChartInputs;
  /** the chart as the operator knows it, for Helm's messages */
  chartPath: string;
}

export type ChartOutcome = { blob: RenderedBlob } | { wanted: WantedRendering };

export interface ChartRenderer {
  /** throws OutpostError naming the site when its inputs or its rendering fail */
  render(site: SiteInputs, kubeVersion: string | undefined): ChartOutcome;
}

/**
 * Compiles a chart bundle's revision for placement over the renderings known so far.
 * @example createChartRenderer({ bundle: 'kiosk', objects: [], helm }, renderings).render(site, 'v1.33.0')
 */
export function createChartRenderer(
  input: RenderInput & { helm: StoredHelm },
  renderings: ReadonlyMap<string, ChartRendering>,
): ChartRenderer {
  const customization = input.customization ?? {};
  const namespace = input.namespace ?? 'default';
  const renderers = new Map<string, BundleRenderer | OutpostError>();
  const blobs = new Map<string, RenderedBlob>();

  const rendererOf = (digest: string, r: { objects: KubeObject[]; origins: ObjectOrigin[] }) => {
    let renderer = renderers.get(digest);
    if (!renderer) {
      try {
        const agent = agentBundleProblem(input.bundle, r.objects);
        if (agent) {
          const { file, line } = r.origins[agent.index] ?? input.helm.origin;
          throw new OutpostError('bundle_invalid', agent.problem, { file, line });
        }
        // overlay targets and placeholders are checked against what the chart rendered
        checkCustomization(
          customization,
          r.objects.map((object, i) => ({ object, ...r.origins[i]! })),
          input.helm.origin,
        );
        renderer = createRenderer({ ...input, objects: r.objects, origins: r.origins });
      } catch (e) {
        if (!(e instanceof OutpostError)) throw e;
        renderer = e;
      }
      renderers.set(digest, renderer);
    }
    return renderer;
  };

  return {
    render(site, kubeVersion) {
      const inputs = chartInputsFor(
        input.helm,
        namespace,
        site,
        valuesForSite(customization, site),
        kubeVersion,
      );
      const digest = chartInputDigest(inputs);
      const rendering = renderings.get(digest);
      if (!rendering) return { wanted: { digest, inputs, chartPath: input.helm.chartPath } };
      if ('error' in rendering) {
        // Helm refused this site's inputs: the site fails alone (a revision Helm refuses for every site
        // is rejected before it is stored)
        const { file, line, message } = rendering.error;
        const where = { ...(file ? { file } : {}), ...(line ? { line } : {}) };
        throw new OutpostError('render_failed', message, { ...where, site: site.name });
      }
      const renderer = rendererOf(digest, rendering);
      if (renderer instanceof OutpostError) {
        throw new OutpostError(renderer.code, renderer.message, { ...renderer.location, site: site.name });
      }
      const key = `${digest}\u0000${renderer.keyOf(site)}`;
      let blob = blobs.get(key);
      if (!blob) {
        blob = renderer.render(site);
        blobs.set(key, blob);
      }
      return { blob };
    },
  };
}
