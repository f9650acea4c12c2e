// The priority classes and SLI names of the telemetry wire contract, apart from its schemas: the
// contract module loads TypeBox (about 9 MiB), which an edge agent does not need at run time.

/**
 * Priority classes, highest first. When the agent's buffer is full it drops the oldest data of the lowest
 * class first; SLIs and events are the last to go.
 */
export const telemetryClasses = ['sli', 'event', 'metric', 'debug'] as const;
export type TelemetryClass = (typeof telemetryClasses)[number];

/**
 * The golden signals an agent derives per bundle, as SLI sample names. Names ending in `_total` are counts
 * over the sample's interval (`d` milliseconds ending at `t`), so they sum; the others are gauges.
 */
export const sliNames = {
  /** requests served in the interval */
  requests: 'requests_total',
  /** requests that failed in the interval (e.g. HTTP 5xx) */
  errors: 'errors_total',
  /** requests slower than the bundle's latency threshold in the interval */
  slow: 'slow_requests_total',
  /** 99th percentile latency over the interval, seconds */
  latencyP99: 'latency_p99_seconds',
  /** 0..1: how full the workload is (CPU, memory or queue, whichever is highest) */
  saturation: 'saturation',
} as const;
