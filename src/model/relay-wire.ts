// Request and response schemas of the relay API (/relay/v1), spoken between a regional relay and the hub:
// enrolment, the change feed, signed desired states and batched reports, plus the operator's relay views.

import { type Static, Type } from 'typebox';
import { TelemetryBatch } from './telemetry.ts';
import { DesiredState, LabelSelector, Report } from './wire.ts';

const Name = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });
const Timestamp = Type.String({ format: 'date-time' });

/** What a relay says of itself with every batch: shown to operators, never trusted for decisions. */
export const RelayStatus = Type.Object({
  /** sites with an agent connected to the relay now */
  connectedSites: Type.Integer({ minimum: 0 }),
  outbox: Type.Object({
    pending: Type.Integer({ minimum: 0 }),
    bytes: Type.Integer({ minimum: 0 }),
    /** items dropped (oldest first) because the outbox's byte budget was full, since the relay's state was made */
    dropped: Type.Integer({ minimum: 0 }),
  }),
  /** seconds since the change feed last answered */
  feedLagSeconds: Type.Number({ minimum: 0 }),
  /**
   * sites' reports since the relay started: put in the outbox for the hub, or kept back because they
   * repeated the last one forwarded within the refresh interval (the site only counted as seen).
   * Absent from older relays.
   */
  reports: Type.Optional(
    Type.Object({ forwarded: Type.Integer({ minimum: 0 }), keptBack: Type.Integer({ minimum: 0 }) }),
  ),
});
export type RelayStatus = Static<typeof RelayStatus>;

export const RelayCreateRequest = Type.Object(
  { name: Name, selector: LabelSelector },
  { additionalProperties: false },
);
export type RelayCreateRequest = Static<typeof RelayCreateRequest>;

export const RelayView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  selector: LabelSelector,
  enrolled: Type.Boolean(),
  revoked: Type.Boolean(),
  createdAt: Timestamp,
  lastSeen: Type.Union([Timestamp, Type.Null()]),
  status: Type.Union([RelayStatus, Type.Null()]),
  /** when the hub found the relay silent (its sites are Stale via it); null while it is heard from */
  lostSince: Type.Union([Timestamp, Type.Null()]),
  /** sites that come through the relay: the hub last heard of them in its batches */
  sites: Type.Integer({ minimum: 0 }),
});
export type RelayView = Static<typeof RelayView>;

export const RelayDetail = Type.Object({
  ...RelayView.properties,
  /** the first sites (by name) that come through it */
  siteNames: Type.Array(Type.String()),
});
export type RelayDetail = Static<typeof RelayDetail>;

export const RelayCreated = Type.Object({
  /** shown once: pass it to `outpost relay --join-token` */
  joinToken: Type.String(),
  relay: RelayView,
});

export const RelayEnrolRequest = Type.Object(
  {
    /** the secret of the relay's join token: "<id>.<secret>" */
    token: Type.String({ maxLength: 200 }),
    csr: Type.String({ maxLength: 8192 }),
    /** host names and addresses agents reach the relay by (its serving certificate's names) */
    names: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 16 }),
  },
  { additionalProperties: false },
);
export type RelayEnrolRequest = Static<typeof RelayEnrolRequest>;

/** A relay renews its certificates with the client certificate it calls with, before it runs out. */
export const RelayRenewRequest = Type.Object(
  {
    csr: Type.String({ maxLength: 8192 }),
    names: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 16 }),
  },
  { additionalProperties: false },
);
export type RelayRenewRequest = Static<typeof RelayRenewRequest>;

/** What enrolment and renewal answer. */
export const RelayEnrolResponse = Type.Object({
  name: Type.String(),
  /** the relay serves agents with this one: issued by the fleet CA for `names` */
  serverCertPem: Type.String(),
  /** the relay calls the hub with this one */
  clientCertPem: Type.String(),
});
export type RelayEnrolResponse = Static<typeof RelayEnrolResponse>;

/** One site the relay may serve, as the change feed lists it. */
export const FeedSite = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** the site's desired-state digest (null before anything is placed) */
  digest: Type.Union([Type.String(), Type.Null()]),
  /** serials (lower-case hex) of the site's certificates that are not revoked: the relay accepts these */
  serials: Type.Array(Type.String()),
});
export type FeedSite = Static<typeof FeedSite>;

/**
 * The change feed's answer: every site in the relay's scope (its ETag is `digest`), or, to a relay that
 * asked with the cursor of its last answer, only what changed since (`delta`).
 */
export const RelayFeed = Type.Object({
  /** the digest of this answer's lists */
  digest: Type.String(),
  /** every site in scope; in a delta, only the sites added to the scope or changed */
  sites: Type.Array(FeedSite),
  /**
   * ids of the sites with operations waiting (every one in the scope, in a delta too): the relay says so
   * on their polls (the `outpost-work` header), and their agents take and answer the operations at the
   * hub itself. Absent from older hubs.
   */
  work: Type.Optional(Type.Array(Type.String())),
  /**
   * what the relay passes as `since` on its next call to be told only what changed; it holds for the
   * hub process that gave it (any other cursor is answered in full). Absent from older hubs and from
   * answers to calls without `since`.
   */
  cursor: Type.Optional(Type.String()),
  /** true: `sites` and `removed` are the changes since the relay's cursor, not its whole scope */
  delta: Type.Optional(Type.Boolean()),
  /** in a delta, the sites that left the relay's scope (relabelled, decommissioned, gone) */
  removed: Type.Optional(Type.Array(Type.String())),
});
export type RelayFeed = Static<typeof RelayFeed>;

export const RelayDesiredRequest = Type.Object(
  { siteIds: Type.Array(Type.String(), { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);

export const RelayDesiredResponse = Type.Object({
  /** one signed state per site in scope; sites outside it are left out */
  states: Type.Array(Type.Object({ siteId: Type.String(), state: DesiredState })),
});
export type RelayDesiredResponse = Static<typeof RelayDesiredResponse>;

export const RelayItem = Type.Union([
  Type.Object({ id: Type.Integer(), siteId: Type.String(), kind: Type.Literal('report'), report: Report }),
  Type.Object({
    id: Type.Integer(),
    siteId: Type.String(),
    kind: Type.Literal('telemetry'),
    telemetry: TelemetryBatch,
  }),
]);
export type RelayItem = Static<typeof RelayItem>;

export const RelayBatch = Type.Object(
  {
    items: Type.Array(RelayItem, { maxItems: 5000 }),
    /** sites whose agents the relay heard from since its last batch (their long-polls stay at the relay) */
    seen: Type.Array(Type.String(), { maxItems: 100_000 }),
    status: RelayStatus,
  },
  { additionalProperties: false },
);
export type RelayBatch = Static<typeof RelayBatch>;

export const RelayBatchAck = Type.Object({
  /** per item id: ingested (or a replay the hub already had), or refused with a reason that resending cannot fix */
  results: Type.Array(
    Type.Object({
      id: Type.Integer(),
      outcome: Type.Union([Type.Literal('stored'), Type.Literal('replay'), Type.Literal('refused')]),
      reason: Type.Optional(Type.String()),
    }),
  ),
});
export type RelayBatchAck = Static<typeof RelayBatchAck>;
