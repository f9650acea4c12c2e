// Events are the fleet's history: what happened to which site (and bundle), when. They are stored with a
// monotonic id so readers page with `after` and a stream resumes from the last id it saw.

/**
 * Types emitted today; `approved` and rollout events are emitted by their issues' code through the same
 * emit function. A new type appends here (the wire schema and CLI follow).
 */
export const eventTypes = [
  'registered',
  'approved',
  'became_stale',
  'went_offline',
  'came_back',
  'failed',
  'drifted',
  'recovered',
  'rolled_back',
  'rollout_started',
  'rollout_progress',
  'wave_started',
  'rollout_site_failed',
  'rollout_paused',
  'rollout_resumed',
  'rollout_rolling_back',
  'rollout_rolled_back',
  'rollout_succeeded',
  'rollout_failed',
  'rollout_aborted',
  'rollout_superseded',
  'rollout_queued',
  /** a Kubernetes event an agent forwarded (details: type, object, reason, count, t) */
  'site_event',
  /** an agent's buffer dropped telemetry (details: the new drops per class and the totals) */
  'telemetry_dropped',
  'slo_alert_firing',
  'slo_alert_resolved',
  /** a site went back to its previous agent release because the new one did not prove itself */
  'agent_upgrade_reverted',
  /** a relay went silent: one event for all its sites, which stay Stale via the relay meanwhile */
  'relay_lost',
  'relay_returned',
] as const;
export type EventType = (typeof eventTypes)[number];

/** An event before the store gives it an id and a time. */
export interface NewEvent {
  type: EventType;
  site?: string;
  bundle?: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Agents say they rolled back in the deployment message ("rolled back to …"); the hub only reads it. */
export function saysRolledBack(message: string | undefined): boolean {
  return message !== undefined && /\brolled back\b/i.test(message);
}
