// The telemetry an agent forwards to the hub: SLI samples, raw metrics and Kubernetes events, in batches
// the agent buffers on disk while the uplink is down. The hub ingests a batch once per (site, batchId), so
// a batch resent after a lost acknowledgement changes nothing.
//
// Wire: POST /agent/v1/sites/:siteId/telemetry with a TelemetryBatch as JSON, optionally
// `Content-Encoding: gzip`; the answer is a TelemetryAck. mTLS with the site's certificate, as for reports.

import { type Static, Type } from 'typebox';

export { sliNames, type TelemetryClass, telemetryClasses } from './telemetry-names.ts';

const MetricName = Type.String({ minLength: 1, maxLength: 200, pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$' });
/** Unix milliseconds a Date holds (up to the year 275760): a later time could be neither stored nor shown. */
const UnixMillis = Type.Integer({ minimum: 0, maximum: 8.64e15 });
/** A count JavaScript holds exactly: a larger one stored would fail every later read of its row. */
const Count = (minimum = 0) => Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER });

export const TelemetrySample = Type.Object({
  class: Type.Union([Type.Literal('sli'), Type.Literal('metric'), Type.Literal('debug')]),
  name: MetricName,
  /** the bundle the sample is about; SLIs always carry one */
  bundle: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  labels: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 256 }))),
  /** end of the interval, Unix milliseconds */
  t: UnixMillis,
  /** length of the interval in milliseconds (counts are over it; gauges are read at its end) */
  d: Type.Optional(Count()),
  v: Type.Number(),
});
export type TelemetrySample = Static<typeof TelemetrySample>;

export const TelemetryEvent = Type.Object({
  /** when it was last seen, Unix milliseconds */
  t: UnixMillis,
  bundle: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  type: Type.Union([Type.Literal('Normal'), Type.Literal('Warning')]),
  /** the object it is about, `Kind namespace/name` */
  object: Type.String({ maxLength: 600 }),
  reason: Type.String({ maxLength: 256 }),
  message: Type.String({ maxLength: 4096 }),
  count: Type.Optional(Count(1)),
});
export type TelemetryEvent = Static<typeof TelemetryEvent>;

/** Counts of telemetry the agent's buffer dropped, per class, since its state directory was made. */
export const TelemetryDrops = Type.Object({
  sli: Count(),
  event: Count(),
  metric: Count(),
  debug: Count(),
});
export type TelemetryDrops = Static<typeof TelemetryDrops>;

export const TelemetryBatch = Type.Object({
  /** unique per site and stable across resends of the same batch */
  batchId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' }),
  samples: Type.Array(TelemetrySample, { maxItems: 50_000 }),
  events: Type.Array(TelemetryEvent, { maxItems: 10_000 }),
  /** cumulative, so a lost or repeated batch never miscounts */
  dropped: TelemetryDrops,
});
export type TelemetryBatch = Static<typeof TelemetryBatch>;

export const TelemetryAck = Type.Object({
  /** false when this batch id was already ingested (a resend): nothing was stored twice */
  accepted: Type.Boolean(),
});
export type TelemetryAck = Static<typeof TelemetryAck>;
