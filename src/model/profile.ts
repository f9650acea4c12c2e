// A site profile: the whole stack a site should run — Kubernetes distribution and version, node OS
// image, Outpost agent, add-on and app bundles — declared once as layers and versioned as one unit.
// Checked here field by field (the path of each problem) so a document and the API name the same field.

import { agentBundleName, versionProblem } from './agent-release.ts';
import {
  distributionOf,
  type KubernetesDistribution,
  kubernetesChangeProblem,
  kubernetesDistributions,
  parseKubernetesVersion,
} from './kubernetes-version.ts';

export const profileLayers = ['os', 'kubernetes', 'agent', 'addons', 'apps'] as const;
/** The layers in the order a site upgrades them: OS → Kubernetes → agent → add-ons → apps. */
export type ProfileLayer = (typeof profileLayers)[number];

export interface KubernetesLayer {
  distribution: KubernetesDistribution;
  /** as the distribution writes it: v1.31.4+k3s1, v1.31.4+rke2r1, v1.31.4 */
  version: string;
  /** how system-upgrade-controller moves the nodes of a k3s or RKE2 site; defaults: one at a time, cordoned */
  upgrade?: NodeUpgradePolicy;
}

export interface NodeUpgradePolicy {
  /** nodes upgraded at once, per Plan (servers, then agents) */
  concurrency: number;
  /** mark a node unschedulable while it upgrades */
  cordon: boolean;
  /** evict its pods first (implies cordon) */
  drain: boolean;
}

/** A host hook: the command the agent runs on a host install to move one layer to its target version. */
export interface HostHook {
  /** an absolute path and its arguments; the layer and the target version are appended */
  command: string[];
}

export type HookedLayer = 'os' | 'kubernetes';

export interface OsLayer {
  /** the OS as nodes report it in status.nodeInfo.osImage, without its version: "Ubuntu", "SL-Micro" */
  image: string;
  version: string;
}

export interface AgentLayer {
  /** an AgentRelease version, shipped through the reserved bundle outpost-agent */
  version: string;
}

export interface BundleLayerEntry {
  bundle: string;
  /** a pinned bundle revision; without it the site conforms with whichever revision it is given */
  revision?: number;
}

export interface ProfileSpec {
  kubernetes?: KubernetesLayer;
  os?: OsLayer;
  agent?: AgentLayer;
  addons?: BundleLayerEntry[];
  apps?: BundleLayerEntry[];
  /** host hooks for the layers no Plan drives: an OS image, a Kubernetes distribution other than k3s/RKE2 */
  hooks?: Partial<Record<HookedLayer, HostHook>>;
  /** how long a site may take to reach a new revision before it counts as Behind rather than Upgrading */
  upgradeDeadlineSeconds: number;
  /** the rollout strategy a new revision reaches the profile's sites with, by name (canary when absent) */
  rollout?: string;
}

export interface ProfileProblem {
  /** the field under spec, dotted with indexes: kubernetes.version, addons.1.bundle */
  path: string;
  message: string;
}

export const defaultUpgradeDeadlineSeconds = 3600;
const specFields = ['placement', ...profileLayers, 'hooks', 'upgradeDeadlineSeconds', 'rollout'];
export const defaultNodeUpgradePolicy: NodeUpgradePolicy = { concurrency: 1, cordon: true, drain: false };
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function unknownField(
  v: Record<string, unknown>,
  at: string,
  known: readonly string[],
): ProfileProblem | undefined {
  const key = Object.keys(v).find((k) => !known.includes(k));
  return key === undefined
    ? undefined
    : { path: at ? `${at}.${key}` : key, message: `unknown field (known: ${known.join(', ')})` };
}

function kubernetesProblem(v: unknown): ProfileProblem | undefined {
  if (!isRecord(v)) return { path: 'kubernetes', message: 'a mapping of distribution and version' };
  const unknown = unknownField(v, 'kubernetes', ['distribution', 'version', 'upgrade']);
  if (unknown) return unknown;
  if (v.upgrade !== undefined) {
    const bad = nodeUpgradeProblem(v.upgrade, v.distribution);
    if (bad) return bad;
  }
  if (!(kubernetesDistributions as readonly unknown[]).includes(v.distribution))
    return { path: 'kubernetes.distribution', message: `one of ${kubernetesDistributions.join(', ')}` };
  const version = typeof v.version === 'string' ? parseKubernetesVersion(v.version) : undefined;
  if (!version)
    return { path: 'kubernetes.version', message: 'a Kubernetes version such as v1.31.4+k3s1 or v1.31.4' };
  if (v.distribution !== 'other' && distributionOf(version) !== v.distribution) {
    const example = v.distribution === 'k3s' ? 'v1.31.4+k3s1' : 'v1.31.4+rke2r1';
    return {
      path: 'kubernetes.version',
      message: `${version.text} is not a ${v.distribution} release (such as ${example})`,
    };
  }
  return undefined;
}

function nodeUpgradeProblem(v: unknown, distribution: unknown): ProfileProblem | undefined {
  const at = 'kubernetes.upgrade';
  if (distribution === 'other')
    return {
      path: at,
      message: 'system-upgrade-controller drives k3s and rke2 only: write hooks.kubernetes',
    };
  if (!isRecord(v)) return { path: at, message: 'a mapping of concurrency, cordon and drain' };
  const unknown = unknownField(v, at, ['concurrency', 'cordon', 'drain']);
  if (unknown) return unknown;
  const c = v.concurrency;
  if (c !== undefined && (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > 100))
    return { path: `${at}.concurrency`, message: 'nodes upgraded at once: a whole number from 1 to 100' };
  for (const flag of ['cordon', 'drain'] as const)
    if (v[flag] !== undefined && typeof v[flag] !== 'boolean')
      return { path: `${at}.${flag}`, message: 'true or false' };
  return undefined;
}

function hooksProblem(v: unknown, spec: Record<string, unknown>): ProfileProblem | undefined {
  if (!isRecord(v)) return { path: 'hooks', message: 'a mapping of layer (os, kubernetes) to {command}' };
  const unknown = unknownField(v, 'hooks', ['os', 'kubernetes']);
  if (unknown) return unknown;
  for (const [layer, hook] of Object.entries(v)) {
    const at = `hooks.${layer}`;
    if (spec[layer] === undefined)
      return { path: at, message: `a hook moves the ${layer} layer: declare ${layer} too` };
    if (layer === 'kubernetes' && (spec.kubernetes as Record<string, unknown>).distribution !== 'other')
      return {
        path: at,
        message: 'k3s and rke2 upgrade through system-upgrade-controller Plans, not a hook',
      };
    if (!isRecord(hook)) return { path: at, message: 'a mapping with command' };
    const unknownKey = unknownField(hook, at, ['command']);
    if (unknownKey) return unknownKey;
    const command = hook.command;
    if (
      !Array.isArray(command) ||
      command.length === 0 ||
      command.length > 32 ||
      !command.every((part) => typeof part === 'string' && part.length > 0 && part.length <= 1024)
    )
      return { path: `${at}.command`, message: 'a list: the program and its arguments (at most 32)' };
    if (!(command[0] as string).startsWith('/'))
      return { path: `${at}.command.0`, message: 'an absolute path: the agent runs it without a shell' };
  }
  return undefined;
}

function osProblem(v: unknown): ProfileProblem | undefined {
  if (!isRecord(v)) return { path: 'os', message: 'a mapping of image and version' };
  const unknown = unknownField(v, 'os', ['image', 'version']);
  if (unknown) return unknown;
  if (typeof v.image !== 'string' || v.image.trim() === '' || v.image.length > 128)
    return { path: 'os.image', message: 'the OS name as nodes report it, such as Ubuntu (at most 128)' };
  if (typeof v.version !== 'string' || !/^\d+(\.\d+)*$/.test(v.version))
    return { path: 'os.version', message: 'a dotted number such as "24.04" (quote it in YAML)' };
  return undefined;
}

function agentProblem(v: unknown): ProfileProblem | undefined {
  if (!isRecord(v)) return { path: 'agent', message: 'a mapping with the agent version' };
  const unknown = unknownField(v, 'agent', ['version']);
  if (unknown) return unknown;
  if (typeof v.version !== 'string') return { path: 'agent.version', message: 'an AgentRelease version' };
  const bad = versionProblem(v.version);
  return bad ? { path: 'agent.version', message: bad } : undefined;
}

function bundleListProblem(layer: 'addons' | 'apps', v: unknown): ProfileProblem | undefined {
  if (!Array.isArray(v)) return { path: layer, message: 'a list of {bundle, revision}' };
  const seen = new Set<string>();
  for (const [i, entry] of v.entries()) {
    const at = `${layer}.${i}`;
    if (!isRecord(entry)) return { path: at, message: 'a mapping of bundle and, optionally, revision' };
    const unknown = unknownField(entry, at, ['bundle', 'revision']);
    if (unknown) return unknown;
    if (typeof entry.bundle !== 'string' || !dnsLabel.test(entry.bundle) || entry.bundle.length > 63)
      return { path: `${at}.bundle`, message: 'a bundle name (a DNS label)' };
    if (entry.bundle === agentBundleName)
      return { path: `${at}.bundle`, message: `${agentBundleName} is the agent layer: write agent.version` };
    if (seen.has(entry.bundle))
      return { path: `${at}.bundle`, message: `${entry.bundle} is named twice in the profile` };
    seen.add(entry.bundle);
    if (
      entry.revision !== undefined &&
      (typeof entry.revision !== 'number' || !Number.isInteger(entry.revision) || entry.revision < 1)
    )
      return { path: `${at}.revision`, message: 'a bundle revision: a whole number from 1' };
  }
  return undefined;
}

/**
 * Reads a profile's spec (placement excepted: it is checked like a bundle's), or returns the first
 * problem with the field it is about.
 */
export function parseProfileSpec(spec: Record<string, unknown>): ProfileSpec | { problem: ProfileProblem } {
  const unknown = unknownField(spec, '', specFields);
  if (unknown) return { problem: unknown };
  if (!profileLayers.some((layer) => spec[layer] !== undefined))
    return {
      problem: {
        path: 'kubernetes',
        message: `a profile declares at least one layer of ${profileLayers.join(', ')}`,
      },
    };
  const problem =
    (spec.kubernetes !== undefined ? kubernetesProblem(spec.kubernetes) : undefined) ??
    (spec.os !== undefined ? osProblem(spec.os) : undefined) ??
    (spec.agent !== undefined ? agentProblem(spec.agent) : undefined) ??
    (spec.addons !== undefined ? bundleListProblem('addons', spec.addons) : undefined) ??
    (spec.apps !== undefined ? bundleListProblem('apps', spec.apps) : undefined) ??
    (spec.hooks !== undefined ? hooksProblem(spec.hooks, spec) : undefined);
  if (problem) return { problem };
  const both = new Set((spec.addons as BundleLayerEntry[] | undefined)?.map((e) => e.bundle));
  const twice = (spec.apps as BundleLayerEntry[] | undefined)?.findIndex((e) => both.has(e.bundle)) ?? -1;
  if (twice >= 0)
    return {
      problem: { path: `apps.${twice}.bundle`, message: 'this bundle is already an add-on of the profile' },
    };
  const deadline = spec.upgradeDeadlineSeconds ?? defaultUpgradeDeadlineSeconds;
  if (typeof deadline !== 'number' || !Number.isInteger(deadline) || deadline < 60 || deadline > 7 * 86400)
    return {
      problem: {
        path: 'upgradeDeadlineSeconds',
        message: 'a whole number of seconds from 60 to 604800 (7 days)',
      },
    };
  if (
    spec.rollout !== undefined &&
    (typeof spec.rollout !== 'string' || !dnsLabel.test(spec.rollout) || spec.rollout.length > 63)
  )
    return { problem: { path: 'rollout', message: 'a rollout strategy name (a DNS label)' } };
  const out: ProfileSpec = { upgradeDeadlineSeconds: deadline };
  if (spec.rollout !== undefined) out.rollout = spec.rollout as string;
  if (spec.kubernetes) {
    const k = spec.kubernetes as Record<string, unknown>;
    out.kubernetes = { distribution: k.distribution as KubernetesDistribution, version: k.version as string };
    if (k.upgrade !== undefined)
      out.kubernetes.upgrade = { ...defaultNodeUpgradePolicy, ...(k.upgrade as Partial<NodeUpgradePolicy>) };
  }
  if (spec.os) {
    const o = spec.os as Record<string, string>;
    out.os = { image: o.image!.trim(), version: o.version! };
  }
  if (spec.agent) out.agent = { version: (spec.agent as Record<string, string>).version! };
  if (spec.hooks) {
    const hooks = spec.hooks as Record<HookedLayer, HostHook>;
    out.hooks = {};
    for (const layer of ['os', 'kubernetes'] as const)
      if (hooks[layer]) out.hooks[layer] = { command: [...hooks[layer].command] };
  }
  for (const layer of ['addons', 'apps'] as const) {
    const entries = spec[layer] as BundleLayerEntry[] | undefined;
    if (entries)
      out[layer] = entries.map((e) =>
        e.revision === undefined ? { bundle: e.bundle } : { bundle: e.bundle, revision: e.revision },
      );
  }
  return out;
}

/**
 * Why a profile may not go from one revision to the next, with the field it is about: a Kubernetes
 * layer that skips a minor or goes back one, or that changes distribution (a migration, not an upgrade).
 */
export function profileChangeProblem(previous: ProfileSpec, next: ProfileSpec): ProfileProblem | undefined {
  const from = previous.kubernetes;
  const to = next.kubernetes;
  if (!from || !to) return undefined;
  if (from.distribution !== to.distribution)
    return {
      path: 'kubernetes.distribution',
      message: `changing ${from.distribution} to ${to.distribution} is a reinstall, not an upgrade: place another profile on new sites instead`,
    };
  const problem = kubernetesChangeProblem(
    parseKubernetesVersion(from.version)!,
    parseKubernetesVersion(to.version)!,
  );
  return problem ? { path: 'kubernetes.version', message: problem } : undefined;
}
