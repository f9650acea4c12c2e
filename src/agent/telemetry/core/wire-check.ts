// The telemetry wire contract (src/model/telemetry.ts) checked by hand, for the agent: loading TypeBox's
// validator costs an edge agent about 10 MiB of memory for a handful of fields. A property test holds this
// to the schema itself, so the two cannot drift apart.

import type { TelemetryBatch, TelemetryEvent, TelemetrySample } from '../../../model/telemetry.ts';

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const batchId = /^[A-Za-z0-9._:-]+$/;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
/** JSON Schema counts a string's length in code points */
const length = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
const str = (v: unknown, min: number, max: number) =>
  typeof v === 'string' && (min === 0 || length(v) >= min) && length(v) <= max;
/** a count JavaScript holds exactly, as the contract's Count */
const int = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
/** Unix milliseconds a Date holds, as the contract's UnixMillis */
const millis = (v: unknown) => int(v, 0, 8.64e15);
const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

export function isTelemetrySample(v: unknown): v is TelemetrySample {
  if (!isRecord(v)) return false;
  if (v.class !== 'sli' && v.class !== 'metric' && v.class !== 'debug') return false;
  if (!str(v.name, 1, 200) || !metricName.test(v.name as string)) return false;
  if (v.bundle !== undefined && !str(v.bundle, 1, 253)) return false;
  if (v.labels !== undefined) {
    if (!isRecord(v.labels)) return false;
    // the schema's key limit is not enforced by JSON Schema validators (a record's keys are patterns)
    for (const x of Object.values(v.labels)) if (!str(x, 0, 256)) return false;
  }
  return millis(v.t) && (v.d === undefined || int(v.d, 0)) && num(v.v);
}

export function isTelemetryEvent(v: unknown): v is TelemetryEvent {
  if (!isRecord(v)) return false;
  return (
    millis(v.t) &&
    (v.bundle === undefined || str(v.bundle, 1, 253)) &&
    (v.type === 'Normal' || v.type === 'Warning') &&
    str(v.object, 0, 600) &&
    str(v.reason, 0, 256) &&
    str(v.message, 0, 4096) &&
    (v.count === undefined || int(v.count, 1))
  );
}

export function isTelemetryBatch(v: unknown): v is TelemetryBatch {
  if (!isRecord(v) || !str(v.batchId, 1, 128) || !batchId.test(v.batchId as string)) return false;
  if (!Array.isArray(v.samples) || v.samples.length > 50_000 || !v.samples.every(isTelemetrySample))
    return false;
  if (!Array.isArray(v.events) || v.events.length > 10_000 || !v.events.every(isTelemetryEvent)) return false;
  const d = v.dropped;
  return isRecord(d) && int(d.sli, 0) && int(d.event, 0) && int(d.metric, 0) && int(d.debug, 0);
}
