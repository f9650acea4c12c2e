// How the dashboard sums a site up in one word and colour: what an operator should look at first.
// Lifecycle, connectivity and deployment state are separate facts; this only orders them for display.

export const tones = ['failed', 'degraded', 'offline', 'stale', 'pending', 'healthy', 'idle'] as const;
export type Tone = (typeof tones)[number];

export const toneLabels: Record<Tone, string> = {
  failed: 'Failed',
  degraded: 'Degraded (not ready, drifted or applying)',
  offline: 'Offline or expired',
  stale: 'Stale',
  pending: 'Pending approval',
  healthy: 'Healthy',
  idle: 'No deployments',
};

/**
 * @example siteTone('Active', 'Online', 'Ready') // 'healthy'
 * @example siteTone('Active', 'Offline', 'Ready') // 'offline': an unreachable site's last state is old news
 */
export function siteTone(lifecycle: string, connectivity: string, state: string | null): Tone {
  if (lifecycle === 'Pending') return 'pending';
  if (state === 'Failed') return 'failed';
  if (connectivity === 'Offline' || connectivity === 'Expired') return 'offline';
  if (state === 'NotReady' || state === 'Drifted' || state === 'Applying' || state === 'Pending')
    return 'degraded';
  if (connectivity === 'Stale') return 'stale';
  return state === 'Ready' ? 'healthy' : 'idle';
}
