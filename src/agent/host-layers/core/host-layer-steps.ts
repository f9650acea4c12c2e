// Which host layers the agent moves for a profile's target, in the order a site upgrades them (OS, then
// Kubernetes), and by what: a host hook, or system-upgrade-controller Plans for k3s and RKE2. Pure.

import type { KubernetesLayer } from '../../../model/profile.ts';
import type { StackTarget } from '../../../model/site-stack.ts';

export type HostLayerStep =
  | { layer: 'os' | 'kubernetes'; via: 'hook'; command: readonly string[]; version: string }
  | { layer: 'kubernetes'; via: 'plans'; kubernetes: KubernetesLayer };

/**
 * The steps for one target, OS first: a layer with nothing here to move it (an OS without a hook, an
 * `other` distribution without one) is left to whoever manages it, and the hub judges it from the nodes.
 * @example hostLayerSteps({ profile: 'stores', revision: 2, kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1' }, upgradeDeadlineSeconds: 3600 })[0].via // 'plans'
 */
export function hostLayerSteps(target: StackTarget): HostLayerStep[] {
  const steps: HostLayerStep[] = [];
  const osHook = target.hooks?.os;
  if (target.os && osHook)
    steps.push({ layer: 'os', via: 'hook', command: osHook.command, version: target.os.version });
  const kube = target.kubernetes;
  const kubeHook = target.hooks?.kubernetes;
  if (kube && kube.distribution !== 'other')
    steps.push({ layer: 'kubernetes', via: 'plans', kubernetes: kube });
  else if (kube && kubeHook)
    steps.push({ layer: 'kubernetes', via: 'hook', command: kubeHook.command, version: kube.version });
  return steps;
}

/**
 * What the agent follows of a target: equal keys mean the same work, so a new profile revision that
 * moves no host layer does not cut a running hook or restart a deadline.
 */
export function followKey(target: StackTarget | null | undefined): string {
  if (!target) return '';
  return JSON.stringify([hostLayerSteps(target), target.upgradeDeadlineSeconds]);
}
