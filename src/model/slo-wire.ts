// The SLO and SLI read API (/api/v1/slos, /api/v1/sites/:name/slis): what an operator declares (SloSpec)
// and what the hub computes from agents' SLIs (SloView, its series and worst sites, a site's SLI series).

import { type Static, Type } from 'typebox';
import { LabelSelector } from './wire.ts';

export const SloSli = Type.Union([
  Type.Object({ kind: Type.Literal('errors') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('latency') }, { additionalProperties: false }),
]);
export type SloSli = Static<typeof SloSli>;

/**
 * 'errors' = 1 − errors_total/requests_total; 'latency' = 1 − slow_requests_total/requests_total, over
 * the bundle's sites matching the selector.
 */
export const SloSpec = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    bundle: Type.String({ minLength: 1, maxLength: 253 }),
    selector: Type.Optional(LabelSelector),
    /** e.g. 0.999 */
    objective: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    /** '28d' | '7d' | '1h' … (minutes, hours or days) */
    window: Type.String({ pattern: '^[1-9][0-9]{0,5}[mhd]$' }),
    sli: SloSli,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type SloSpec = Static<typeof SloSpec>;

export const SloAlert = Type.Union([
  Type.Literal('ok'),
  Type.Literal('slow-burn'),
  Type.Literal('fast-burn'),
]);
export type SloAlert = Static<typeof SloAlert>;

export const SloView = Type.Intersect([
  SloSpec,
  Type.Object({
    /** 1 = untouched, 0 = spent, may go negative */
    budgetRemaining: Type.Number(),
    /** good share over the window; null without requests */
    attainment: Type.Union([Type.Number(), Type.Null()]),
    burn: Type.Object({
      /** burn rate over 1 h */
      fast: Type.Union([Type.Number(), Type.Null()]),
      /** burn rate over 6 h */
      slow: Type.Union([Type.Number(), Type.Null()]),
    }),
    alert: SloAlert,
    /** sites in scope: the bundle is placed on them and they match the selector */
    sites: Type.Integer(),
    /** the source whose fleet repository defines it; absent when made through the API */
    source: Type.Optional(Type.String()),
  }),
]);
export type SloView = Static<typeof SloView>;

export const SloSeriesPoint = Type.Object({
  /** ISO time */
  t: Type.String(),
  budgetRemaining: Type.Number(),
  burnRate: Type.Union([Type.Number(), Type.Null()]),
});

export const SloWorstSite = Type.Object({
  site: Type.String(),
  budgetRemaining: Type.Number(),
  errorRate: Type.Union([Type.Number(), Type.Null()]),
});

export const SloDetail = Type.Intersect([
  SloView,
  Type.Object({ series: Type.Array(SloSeriesPoint), worstSites: Type.Array(SloWorstSite) }),
]);
export type SloDetail = Static<typeof SloDetail>;

export const SiteSlis = Type.Object({
  series: Type.Array(
    Type.Object({
      bundle: Type.String(),
      name: Type.String(),
      /** [Unix ms, value] */
      points: Type.Array(Type.Tuple([Type.Number(), Type.Number()])),
    }),
  ),
});
export type SiteSlis = Static<typeof SiteSlis>;
