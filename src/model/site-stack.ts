// What a site really runs beneath its bundles, as its agent reads it from the cluster: per node the
// kubelet, container runtime, OS image, kernel and architecture (Node status.nodeInfo), and the agent's
// own version. Shared by the agent, which reports it, and the hub, which judges it against a profile.

import { type Static, Type } from 'typebox';

export const NodeInfo = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253 }),
  kubeletVersion: Type.String({ maxLength: 64 }),
  containerRuntimeVersion: Type.String({ maxLength: 128 }),
  osImage: Type.String({ maxLength: 256 }),
  kernelVersion: Type.String({ maxLength: 128 }),
  architecture: Type.String({ maxLength: 32 }),
  /** the node carries the control-plane role label: its kubelet sits beside an API server */
  controlPlane: Type.Boolean(),
});
export type NodeInfo = Static<typeof NodeInfo>;

/**
 * A host layer the agent is moving to its profile's version (Plans for k3s/RKE2, a host hook otherwise):
 * Upgrading until every node is there, Conformant once it is, Behind with the nodes that missed the deadline.
 */
export const LayerUpgrade = Type.Object({
  layer: Type.Enum(['os', 'kubernetes']),
  target: Type.String({ maxLength: 128 }),
  state: Type.Enum(['Upgrading', 'Conformant', 'Behind']),
  /** nodes not at the target yet, servers first: for Behind, the first one is the one to look at */
  behind: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 5000 }),
  detail: Type.String({ maxLength: 2048 }),
  startedAt: Type.String({ format: 'date-time' }),
});
export type LayerUpgrade = Static<typeof LayerUpgrade>;

export const SiteStack = Type.Object({
  agentVersion: Type.String({ maxLength: 64 }),
  /** the API server's version (v1.33.13): charts render for it, so a change re-renders them */
  kubernetesVersion: Type.Optional(Type.String({ maxLength: 64 })),
  nodes: Type.Array(NodeInfo, { maxItems: 5000 }),
  /** the host-layer upgrades the agent drives, when its profile asks for one */
  upgrades: Type.Optional(Type.Array(LayerUpgrade, { maxItems: 2 })),
});
export type SiteStack = Static<typeof SiteStack>;

const HookCommand = Type.Object({
  command: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 64 }),
});

/**
 * The host layers a site's profile asks for, as the hub sends them in the site's desired state: the
 * profile revision the site is given (a rollout moves sites to a new one wave by wave), and what the agent
 * drives from it (Plans for k3s/RKE2, host hooks otherwise). Covered by the desired state's digest, so a
 * relay cannot change it.
 */
export const StackTarget = Type.Object({
  profile: Type.String({ minLength: 1, maxLength: 253 }),
  revision: Type.Integer({ minimum: 1 }),
  kubernetes: Type.Optional(
    Type.Object({
      distribution: Type.Enum(['k3s', 'rke2', 'other']),
      version: Type.String({ minLength: 1, maxLength: 64 }),
      upgrade: Type.Optional(
        Type.Object({
          concurrency: Type.Integer({ minimum: 1, maximum: 1000 }),
          cordon: Type.Boolean(),
          drain: Type.Boolean(),
        }),
      ),
    }),
  ),
  os: Type.Optional(
    Type.Object({
      image: Type.String({ minLength: 1, maxLength: 256 }),
      version: Type.String({ minLength: 1, maxLength: 128 }),
    }),
  ),
  hooks: Type.Optional(
    Type.Object({
      os: Type.Optional(HookCommand),
      kubernetes: Type.Optional(HookCommand),
    }),
  ),
  upgradeDeadlineSeconds: Type.Integer({ minimum: 1 }),
});
export type StackTarget = Static<typeof StackTarget>;

const controlPlaneLabels = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

/** Reads one Node object's identity and versions; fields a node has not reported yet read as ''. */
export function nodeInfoOf(node: {
  metadata?: { name?: string; labels?: Record<string, string> };
  status?: { nodeInfo?: Record<string, unknown> };
}): NodeInfo {
  const info = node.status?.nodeInfo ?? {};
  const text = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : '');
  const labels = node.metadata?.labels ?? {};
  return {
    name: node.metadata?.name ?? '',
    kubeletVersion: text('kubeletVersion'),
    containerRuntimeVersion: text('containerRuntimeVersion'),
    osImage: text('osImage'),
    kernelVersion: text('kernelVersion'),
    architecture: text('architecture'),
    controlPlane: controlPlaneLabels.some((l) => Object.hasOwn(labels, l)),
  };
}
