// The priority classes and SLI names of the wire contract (src/model/telemetry.ts), as plain constants:
// the contract module loads TypeBox (~9 MiB on an edge agent) for its schemas, which the agent does not
// need at run time. names.test.ts holds these equal to the contract's own.

import type { TelemetryClass } from '../../../model/telemetry.ts';

/** Highest priority first: SLIs and events are the last to be dropped. */
export const classOrder: readonly TelemetryClass[] = ['sli', 'event', 'metric', 'debug'];

export const sli = {
  requests: 'requests_total',
  errors: 'errors_total',
  slow: 'slow_requests_total',
  latencyP99: 'latency_p99_seconds',
  saturation: 'saturation',
} as const;
