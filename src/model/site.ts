// A site is one edge location: one cluster, one agent. Connectivity follows from the last time the hub
// heard from the agent; the hub stores it so each transition is an event; it is a fact apart from health.

export const lifecycles = ['Pending', 'Active', 'Decommissioned'] as const;
export type Lifecycle = (typeof lifecycles)[number];

/**
 * Online, Stale and Offline follow from silence (connectivityOf). Expired (the site's identity lapsed) is
 * set by the identity code and left alone by silence; new states append here and every count follows.
 */
export const connectivities = ['Online', 'Stale', 'Offline', 'Expired'] as const;
export type Connectivity = (typeof connectivities)[number];

export interface ConnectivityThresholds {
  /** silence after which a site is Stale */
  staleAfterMs: number;
  /** silence after which a site is Offline */
  offlineAfterMs: number;
}

/** Stale after three missed 30 s heartbeats, Offline after ten minutes. */
export const defaultThresholds: ConnectivityThresholds = { staleAfterMs: 90_000, offlineAfterMs: 600_000 };

/**
 * Expired (the site's certificate lapsed, so it cannot call home until it joins again) outranks the
 * silence-based states: it needs a person, while Stale and Offline heal by themselves.
 */
export function connectivityOf(
  lastSeen: Date | undefined,
  now: Date,
  t: ConnectivityThresholds = defaultThresholds,
  certificateExpiresAt?: Date,
): Connectivity {
  if (certificateExpiresAt && certificateExpiresAt.getTime() <= now.getTime()) return 'Expired';
  if (!lastSeen) return 'Offline';
  const silence = now.getTime() - lastSeen.getTime();
  if (silence >= t.offlineAfterMs) return 'Offline';
  if (silence >= t.staleAfterMs) return 'Stale';
  return 'Online';
}

/** Site names are DNS labels, so they can appear in certificates, URLs and Kubernetes labels. */
export function siteNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 63) return 'a site name has 1 to 63 characters';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
    return 'a site name is lower-case letters, digits and dashes, starting and ending with a letter or digit';
  return undefined;
}
