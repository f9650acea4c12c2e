// How a profile rollout reads a site: rollout/core decides on deployment states, so a site's conformance
// to the revision it was given is read as one (Conformant is Ready, Behind is Failed, the rest still
// applying), and a failed site's reason names the layer, nodes and why. Pure.

import type { DeploymentState } from '../../../model/deployment.ts';
import type { RolloutStrategy } from '../../../model/rollout-strategy.ts';
import type { SiteConformance } from './conformance.ts';

/** A site's conformance to the rollout's revision as the state rollout/core decides on. */
export function progressStateOf(conformance: SiteConformance): DeploymentState {
  if (conformance.state === 'Conformant') return 'Ready';
  if (conformance.state === 'Behind') return 'Failed';
  return 'Applying';
}

/** Why a site failed a profile rollout: its first Behind layer, with the nodes or bundles and detail. */
export function behindReason(conformance: SiteConformance): string | undefined {
  const layer = conformance.layers.find((l) => l.state === 'Behind');
  if (!layer) return undefined;
  const which = layer.behind.length > 0 ? ` (${layer.behind.join(', ')})` : '';
  return `${layer.layer} layer Behind${which}: ${layer.detail}`;
}

/**
 * A bundle strategy as a profile rollout runs it: a failure pauses, never rolls back (Kubernetes cannot go
 * back a minor), and a site has at least the profile's upgrade deadline (plus a minute for the report that
 * says it is done) before the rollout counts it late, so its conformance says Behind first, with why.
 */
export function profileStrategy(strategy: RolloutStrategy, upgradeDeadlineSeconds: number): RolloutStrategy {
  return {
    ...strategy,
    onFailure: 'pause',
    progressDeadlineSeconds: Math.max(strategy.progressDeadlineSeconds, upgradeDeadlineSeconds + 60),
  };
}
