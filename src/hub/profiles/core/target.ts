// The host layers a site is sent from the profile revision it is given (its desired state's stack), and
// which revision that is: the profile's latest, unless a rollout of the profile has not reached the site yet.
// Pure: the hub's store reads and writes sit in profiles/targets.ts.

import type { ProfileSpec } from '../../../model/profile.ts';
import type { StackTarget } from '../../../model/site-stack.ts';

/**
 * What the agent drives for a profile revision: the Kubernetes and OS layers with their upgrade policy,
 * the hooks and the deadline. Add-on and app layers are bundles, which placement already sends.
 * @example stackTargetOf('stores', 2, spec).kubernetes?.version // 'v1.31.4+k3s1'
 */
export function stackTargetOf(profile: string, revision: number, spec: ProfileSpec): StackTarget {
  const hooks = spec.hooks
    ? {
        ...(spec.hooks.os ? { os: { command: [...spec.hooks.os.command] } } : {}),
        ...(spec.hooks.kubernetes ? { kubernetes: { command: [...spec.hooks.kubernetes.command] } } : {}),
      }
    : undefined;
  return {
    profile,
    revision,
    ...(spec.kubernetes
      ? {
          kubernetes: {
            distribution: spec.kubernetes.distribution,
            version: spec.kubernetes.version,
            ...(spec.kubernetes.upgrade ? { upgrade: { ...spec.kubernetes.upgrade } } : {}),
          },
        }
      : {}),
    ...(spec.os ? { os: { image: spec.os.image, version: spec.os.version } } : {}),
    ...(hooks && Object.keys(hooks).length > 0 ? { hooks } : {}),
    upgradeDeadlineSeconds: spec.upgradeDeadlineSeconds,
  };
}

/** Where a profile's rollout holds a site: the revision the site keeps until its wave starts it. */
export interface RolloutHold {
  /** the revision the rollout moves sites to */
  toRevision: number;
  /** sites the rollout has not started, each with the revision it keeps meanwhile */
  held: ReadonlyMap<string, number>;
}

/**
 * The revision a site following a profile is given: the latest, or what a rollout of it holds the site on
 * while its wave has not started (a hold of an older rollout than the latest revision holds nothing).
 */
export function targetRevision(siteId: string, latest: number, hold: RolloutHold | undefined): number {
  if (!hold || hold.toRevision !== latest) return latest;
  return hold.held.get(siteId) ?? latest;
}
