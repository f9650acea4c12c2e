// A deployment is one (site, bundle) pair. Its state is what the site's agent last reported for the
// digest the hub wants there; a rollup over many deployments takes the worst state.

export const deploymentStates = ['Pending', 'Applying', 'Ready', 'NotReady', 'Failed', 'Drifted'] as const;
export type DeploymentState = (typeof deploymentStates)[number];

/** What an agent may report; Pending is the hub's own word for "not yet reported for this digest". */
export const reportedStates = ['Applying', 'Ready', 'NotReady', 'Failed', 'Drifted'] as const;
export type ReportedState = (typeof reportedStates)[number];

const severity: Record<DeploymentState, number> = {
  Failed: 5,
  Drifted: 4,
  NotReady: 3,
  Applying: 2,
  Pending: 1,
  Ready: 0,
};

/** The state a group of deployments shows: the worst one (Ready only when all are Ready). */
export function worstState(states: Iterable<DeploymentState>): DeploymentState | undefined {
  let worst: DeploymentState | undefined;
  for (const s of states) if (worst === undefined || severity[s] > severity[worst]) worst = s;
  return worst;
}

export interface ResourceCounts {
  /** objects the bundle has on the site */
  total: number;
  /** objects applied successfully */
  applied: number;
  /** objects that are ready (see the agent's readiness rules) */
  ready: number;
}
