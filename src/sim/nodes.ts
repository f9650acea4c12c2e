// The nodes of a simulated store and the system-upgrade-controller that moves them: one server and up
// to two agents drawn from the seed, and, for the Plans applied to the cluster, which node starts its
// upgrade when and which finishes. Pure: the clock and the per-node upgrade time are passed in.

import { type LabelSelector, matchesSelector } from '../select/labels.ts';
import { draw } from './random.ts';

/** What a store's nodes run when the simulation starts. */
export interface SimulatedNodeImage {
  kubeletVersion: string;
  containerRuntimeVersion: string;
  osImage: string;
  kernelVersion: string;
  architecture: string;
}

export const defaultNodeImage: SimulatedNodeImage = {
  kubeletVersion: 'v1.31.4+k3s1',
  containerRuntimeVersion: 'containerd://1.7.23-k3s2',
  osImage: 'Ubuntu 24.04.1 LTS',
  kernelVersion: '6.8.0-49-generic',
  architecture: 'amd64',
};

export interface SimulatedNode extends SimulatedNodeImage {
  name: string;
  labels: Record<string, string>;
}

export const controlPlaneLabel = 'node-role.kubernetes.io/control-plane';

/**
 * A store's nodes from the seed: `NAME-server` (the control plane) and 0–2 of `NAME-agent-N`.
 * @example storeNodes(7, 'store-0001').map((n) => n.name) // ['store-0001-server', …]
 */
export function storeNodes(
  seed: number,
  site: string,
  image: SimulatedNodeImage = defaultNodeImage,
): SimulatedNode[] {
  const agents = Math.floor(draw(seed, site, 'agent nodes') * 3);
  const node = (name: string, server: boolean): SimulatedNode => ({
    ...image,
    name,
    labels: {
      'kubernetes.io/hostname': name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': image.architecture,
      ...(server ? { [controlPlaneLabel]: 'true', 'node-role.kubernetes.io/master': 'true' } : {}),
    },
  });
  return [
    node(`${site}-server`, true),
    ...Array.from({ length: agents }, (_, i) => node(`${site}-agent-${i + 1}`, false)),
  ];
}

/** The part of an `upgrade.cattle.io/v1` Plan the controller acts on. */
export interface UpgradePlan {
  name: string;
  version: string;
  concurrency: number;
  nodeSelector: LabelSelector;
  /** a Plan whose nodes must all be done first (the agents' Plan's `prepare` names the servers') */
  after?: string;
}

/** Reads a Plan object's spec; a Plan without a version moves nothing. */
export function upgradePlanOf(plan: {
  metadata: { name?: string };
  spec?: unknown;
}): UpgradePlan | undefined {
  const spec = (plan.spec ?? {}) as {
    version?: unknown;
    concurrency?: unknown;
    nodeSelector?: LabelSelector;
    prepare?: { args?: unknown[] };
  };
  if (typeof spec.version !== 'string' || !spec.version) return undefined;
  const args = spec.prepare?.args ?? [];
  const after = args[0] === 'prepare' && typeof args[1] === 'string' ? args[1] : undefined;
  return {
    name: plan.metadata.name ?? '',
    version: spec.version,
    concurrency: typeof spec.concurrency === 'number' && spec.concurrency > 0 ? spec.concurrency : 1,
    nodeSelector: spec.nodeSelector ?? {},
    ...(after ? { after } : {}),
  };
}

/** One node's upgrade job; `doneAt` null is a job that never succeeds (the store told to fail). */
export interface NodeUpgradeJob {
  node: string;
  plan: string;
  version: string;
  doneAt: number | null;
}

export interface ControllerInput {
  nodes: ReadonlyArray<Pick<SimulatedNode, 'name' | 'labels' | 'kubeletVersion'>>;
  plans: readonly UpgradePlan[];
  jobs: readonly NodeUpgradeJob[];
  now: number;
  /** how long the node's upgrade to `version` takes, or null when it never succeeds */
  upgradeMs: (node: string, version: string) => number | null;
}

export interface ControllerStep {
  /** nodes whose upgrade finished by now, with the kubelet version they run from now on */
  upgraded: Array<{ node: string; version: string }>;
  /** the jobs still running, those started now among them */
  jobs: NodeUpgradeJob[];
}

/**
 * What the controller does by `now`: jobs that are due finish, jobs whose Plan is gone or changed stop,
 * and each Plan starts jobs (in node name order) on its nodes short of its version, up to its concurrency,
 * once the Plan it waits for has every node done.
 * @example upgradeControllerStep({ nodes, plans, jobs: [], now: 0, upgradeMs: () => 1000 }).jobs[0].node // the first server
 */
export function upgradeControllerStep(input: ControllerInput): ControllerStep {
  const versions = new Map(input.nodes.map((n) => [n.name, n.kubeletVersion]));
  const planByName = new Map(input.plans.map((p) => [p.name, p]));
  const upgraded: ControllerStep['upgraded'] = [];
  const jobs: NodeUpgradeJob[] = [];
  for (const job of input.jobs) {
    if (planByName.get(job.plan)?.version !== job.version) continue;
    if (job.doneAt !== null && job.doneAt <= input.now) {
      versions.set(job.node, job.version);
      upgraded.push({ node: job.node, version: job.version });
    } else jobs.push(job);
  }
  const nodesOf = (plan: UpgradePlan) =>
    input.nodes
      .filter((n) => matchesSelector(plan.nodeSelector, n.labels))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const done = (plan: UpgradePlan) =>
    nodesOf(plan).every((n) => versions.get(n.name) === plan.version && !jobs.some((j) => j.node === n.name));
  for (const plan of input.plans) {
    const waitsFor = plan.after ? planByName.get(plan.after) : undefined;
    if (waitsFor && !done(waitsFor)) continue;
    let free = plan.concurrency - jobs.filter((j) => j.plan === plan.name).length;
    for (const node of nodesOf(plan)) {
      if (free <= 0) break;
      if (versions.get(node.name) === plan.version || jobs.some((j) => j.node === node.name)) continue;
      const ms = input.upgradeMs(node.name, plan.version);
      jobs.push({
        node: node.name,
        plan: plan.name,
        version: plan.version,
        doneAt: ms === null ? null : input.now + ms,
      });
      free--;
    }
  }
  return { upgraded, jobs };
}
