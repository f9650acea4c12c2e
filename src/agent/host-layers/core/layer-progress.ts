// How far a host-layer upgrade the agent drives has come, from the nodes as they report themselves:
// Upgrading while some node is short of the target and the deadline holds, Conformant when none is,
// Behind with the nodes that missed it, or at once for a node too far back for one step. Pure: nodes and clock passed in.

import {
  compareKubernetesVersions,
  kubernetesChangeProblem,
  parseKubernetesVersion,
} from '../../../model/kubernetes-version.ts';
import type { LayerUpgrade, NodeInfo } from '../../../model/site-stack.ts';

export interface KubernetesProgressInput {
  target: string;
  nodes: readonly NodeInfo[];
  startedAt: Date;
  deadlineSeconds: number;
  now: Date;
}

/** Servers first, as the Plans take them, then by name: the first node short of the target is the one held up. */
function upgradeOrder(a: NodeInfo, b: NodeInfo): number {
  if (a.controlPlane !== b.controlPlane) return a.controlPlane ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The Kubernetes layer's progress toward `target`: a node counts as there once its kubelet reports the
 * target or newer (a node already ahead is not this upgrade's to move).
 * @example kubernetesProgress({ target: 'v1.31.4+k3s1', nodes, startedAt, deadlineSeconds: 3600, now }).state // 'Upgrading'
 */
export function kubernetesProgress(input: KubernetesProgressInput): LayerUpgrade {
  const want = parseKubernetesVersion(input.target);
  if (!want) throw new Error(`not a Kubernetes version: ${input.target}`);
  const nodes = [...input.nodes].sort(upgradeOrder);
  const short = nodes.filter((n) => {
    const got = parseKubernetesVersion(n.kubeletVersion);
    return !got || compareKubernetesVersions(got, want) < 0;
  });
  const base = { layer: 'kubernetes' as const, target: want.text, startedAt: input.startedAt.toISOString() };
  if (nodes.length === 0)
    return { ...base, state: 'Upgrading', behind: [], detail: 'no node has registered with the cluster yet' };
  if (short.length === 0)
    return { ...base, state: 'Conformant', behind: [], detail: `every node runs ${want.text} or newer` };
  // k3s and RKE2 go up one minor at a time: a node further back would be broken, not upgraded, by the Plans
  for (const n of short) {
    const got = parseKubernetesVersion(n.kubeletVersion);
    const blocked = got && kubernetesChangeProblem(got, want);
    if (blocked)
      return {
        ...base,
        state: 'Behind',
        behind: [n.name],
        detail: `node ${n.name}: ${blocked}; no Plan applied`,
      };
  }
  const first = short[0]!;
  const elapsedMs = input.now.getTime() - input.startedAt.getTime();
  const done = nodes.length - short.length;
  if (elapsedMs >= input.deadlineSeconds * 1000)
    return {
      ...base,
      state: 'Behind',
      behind: short.map((n) => n.name),
      detail: `node ${first.name} still runs ${first.kubeletVersion || 'no reported kubelet'} ${input.deadlineSeconds} s after the upgrade to ${want.text} began (${done} of ${nodes.length} nodes there)`,
    };
  return {
    ...base,
    state: 'Upgrading',
    behind: short.map((n) => n.name),
    detail: `${done} of ${nodes.length} nodes run ${want.text}; next: ${first.name}`,
  };
}
