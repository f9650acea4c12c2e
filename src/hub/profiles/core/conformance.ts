// Whether a site runs what its profile says, layer by layer, from what its agent reported: Conformant,
// Upgrading (still within the profile's deadline since the site was given this revision), Behind (which
// layer, which nodes, why), Ahead, or Unknown (the site has not said). Pure: the clock is passed in.

import {
  compareKubernetesVersions,
  distributionOf,
  kubeletSkewProblem,
  kubernetesChangeProblem,
  parseKubernetesVersion,
} from '../../../model/kubernetes-version.ts';
import type { BundleLayerEntry, ProfileLayer, ProfileSpec } from '../../../model/profile.ts';
import type { NodeInfo, SiteStack } from '../../../model/site-stack.ts';

export const conformanceStates = ['Conformant', 'Upgrading', 'Behind', 'Ahead', 'Unknown'] as const;
export type ConformanceState = (typeof conformanceStates)[number];

export interface LayerConformance {
  layer: ProfileLayer;
  state: ConformanceState;
  /** the nodes (kubernetes, os) or bundles (addons, apps) not at the target */
  behind: string[];
  /** what a person reads: the first thing that is off, with the versions */
  detail: string;
}

export interface SiteConformance {
  state: ConformanceState;
  layers: LayerConformance[];
}

/** What the hub knows of one bundle on the site: the revision it runs (null: none yet) and readiness. */
export interface RunningBundle {
  revision: number | null;
  ready: boolean;
}

export interface ConformanceInput {
  spec: ProfileSpec;
  /** when the site was first given this profile revision: the upgrade deadline counts from here */
  since: Date;
  /** what the agent last reported of its cluster; undefined when it never has */
  stack: SiteStack | undefined;
  bundles: ReadonlyMap<string, RunningBundle>;
  now: Date;
}

/** Behind beats Upgrading beats Ahead beats Unknown beats Conformant: the worst layer names the site. */
const severity: Record<ConformanceState, number> = {
  Behind: 4,
  Upgrading: 3,
  Ahead: 2,
  Unknown: 1,
  Conformant: 0,
};

function layerResult(
  layer: ProfileLayer,
  behind: string[],
  ahead: string[],
  late: boolean,
  detail: string,
): LayerConformance {
  if (behind.length > 0) return { layer, state: late ? 'Behind' : 'Upgrading', behind, detail };
  if (ahead.length > 0) return { layer, state: 'Ahead', behind: ahead, detail };
  return { layer, state: 'Conformant', behind: [], detail: '' };
}

function kubernetesConformance(
  target: NonNullable<ProfileSpec['kubernetes']>,
  nodes: readonly NodeInfo[],
  late: boolean,
): LayerConformance {
  const want = parseKubernetesVersion(target.version)!;
  const behind: string[] = [];
  const ahead: string[] = [];
  let detail = '';
  for (const node of nodes) {
    const got = parseKubernetesVersion(node.kubeletVersion);
    if (!got) {
      behind.push(node.name);
      detail ||= `node ${node.name} reports no readable kubelet version ("${node.kubeletVersion}")`;
      continue;
    }
    if (target.distribution !== 'other' && distributionOf(got) !== target.distribution) {
      behind.push(node.name);
      detail ||= `node ${node.name} runs ${got.text}, not a ${target.distribution} release`;
      continue;
    }
    // a node the target cannot reach in one step needs a hand: no waiting turns it into Conformant
    const blocked = kubernetesChangeProblem(got, want) ?? kubeletSkewProblem(want, got);
    if (blocked && compareKubernetesVersions(got, want) < 0) {
      return {
        layer: 'kubernetes',
        state: 'Behind',
        behind: [node.name],
        detail: `node ${node.name}: ${blocked}`,
      };
    }
    const order = compareKubernetesVersions(got, want);
    if (order < 0) {
      behind.push(node.name);
      detail ||= `node ${node.name} runs ${got.text}, the profile wants ${want.text}`;
    } else if (order > 0) {
      ahead.push(node.name);
      detail ||= `node ${node.name} runs ${got.text}, newer than ${want.text}`;
    }
  }
  return layerResult('kubernetes', behind, ahead, late, detail);
}

/** The dotted numbers of an OS image after its name: "Ubuntu 24.04.1 LTS" → [24, 4, 1]. */
function osVersionOf(osImage: string, image: string): number[] | undefined {
  const lower = osImage.toLowerCase();
  if (!lower.startsWith(`${image.toLowerCase()} `)) return undefined;
  const m = /\d+(\.\d+)*/.exec(osImage.slice(image.length));
  return m ? m[0].split('.').map(Number) : undefined;
}

function compareOsVersions(got: number[], want: number[]): number {
  for (let i = 0; i < want.length; i++) {
    const d = (got[i] ?? 0) - want[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function osConformance(target: NonNullable<ProfileSpec['os']>, nodes: readonly NodeInfo[], late: boolean) {
  const want = target.version.split('.').map(Number);
  const behind: string[] = [];
  const ahead: string[] = [];
  let detail = '';
  for (const node of nodes) {
    const got = osVersionOf(node.osImage, target.image);
    const order = got ? compareOsVersions(got, want) : -1;
    if (order < 0) {
      behind.push(node.name);
      detail ||= `node ${node.name} runs "${node.osImage}", the profile wants ${target.image} ${target.version}`;
    } else if (order > 0) {
      ahead.push(node.name);
      detail ||= `node ${node.name} runs "${node.osImage}", newer than ${target.image} ${target.version}`;
    }
  }
  return layerResult('os', behind, ahead, late, detail);
}

function agentConformance(version: string, stack: SiteStack, late: boolean): LayerConformance {
  if (stack.agentVersion === version) return layerResult('agent', [], [], late, '');
  return layerResult(
    'agent',
    ['outpost-agent'],
    [],
    late,
    `the agent runs ${stack.agentVersion}, the profile wants ${version}`,
  );
}

function bundleConformance(
  layer: 'addons' | 'apps',
  entries: readonly BundleLayerEntry[],
  bundles: ReadonlyMap<string, RunningBundle>,
  late: boolean,
): LayerConformance {
  const behind: string[] = [];
  const ahead: string[] = [];
  let detail = '';
  for (const { bundle, revision } of entries) {
    const running = bundles.get(bundle);
    if (!running || running.revision === null) {
      behind.push(bundle);
      detail ||= running ? `${bundle} is not applied yet` : `${bundle} is not placed on the site`;
    } else if (revision !== undefined && running.revision < revision) {
      behind.push(bundle);
      detail ||= `${bundle} runs revision ${running.revision}, the profile pins ${revision}`;
    } else if (revision !== undefined && running.revision > revision) {
      ahead.push(bundle);
      detail ||= `${bundle} runs revision ${running.revision}, newer than the pinned ${revision}`;
    } else if (!running.ready) {
      behind.push(bundle);
      detail ||= `${bundle} revision ${running.revision} is not ready`;
    }
  }
  return layerResult(layer, behind, ahead, late, detail);
}

/**
 * The agent's own word on a host layer it is upgrading: when it has given up on this very target (no
 * system-upgrade-controller, a hook that failed or overran) the layer is Behind at once with its reason,
 * rather than Upgrading until the hub's deadline.
 */
function withAgentVerdict(judged: LayerConformance, target: string, stack: SiteStack): LayerConformance {
  const said = stack.upgrades?.find((u) => u.layer === judged.layer && u.target === target);
  if (said?.state !== 'Behind' || judged.state === 'Conformant' || judged.state === 'Ahead') return judged;
  return { layer: judged.layer, state: 'Behind', behind: said.behind, detail: said.detail };
}

/**
 * Judges one site against its profile revision. Layers the site has not reported (no node
 * information yet) are Unknown; a layer still off after the deadline is Behind.
 * @example siteConformance({ spec, since, stack, bundles, now }).state // 'Upgrading'
 */
export function siteConformance(input: ConformanceInput): SiteConformance {
  const { spec, stack, bundles } = input;
  const late = input.now.getTime() - input.since.getTime() >= spec.upgradeDeadlineSeconds * 1000;
  const unknown = (layer: ProfileLayer): LayerConformance => ({
    layer,
    state: 'Unknown',
    behind: [],
    detail: 'the site has not reported its nodes',
  });
  const nodes = stack?.nodes ?? [];
  const layers: LayerConformance[] = [];
  if (spec.os)
    layers.push(
      stack && nodes.length > 0
        ? withAgentVerdict(osConformance(spec.os, nodes, late), spec.os.version, stack)
        : unknown('os'),
    );
  if (spec.kubernetes)
    layers.push(
      stack && nodes.length > 0
        ? withAgentVerdict(
            kubernetesConformance(spec.kubernetes, nodes, late),
            spec.kubernetes.version,
            stack,
          )
        : unknown('kubernetes'),
    );
  if (spec.agent) layers.push(stack ? agentConformance(spec.agent.version, stack, late) : unknown('agent'));
  if (spec.addons) layers.push(bundleConformance('addons', spec.addons, bundles, late));
  if (spec.apps) layers.push(bundleConformance('apps', spec.apps, bundles, late));
  const state = layers.reduce<ConformanceState>(
    (worst, l) => (severity[l.state] > severity[worst] ? l.state : worst),
    'Conformant',
  );
  return { state, layers };
}
