// Work an operator queues for one site's agent, which picks it up on its next poll (the hub never calls
// in): remote actions and log requests; what each asks for, how it ends, and the bounds on it.

import { type Static, Type } from 'typebox';

const Timestamp = Type.String({ format: 'date-time' });
/** a Kubernetes object name or namespace */
const KubeName = Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' });

export const operationKinds = ['action', 'logs'] as const;
export type OperationKind = (typeof operationKinds)[number];

/** queued (waiting for the agent) → running (picked up) → done | failed; or expired, or cancelled */
export const operationStates = ['queued', 'running', 'done', 'failed', 'expired', 'cancelled'] as const;
export type OperationState = (typeof operationStates)[number];
export const finishedStates: readonly OperationState[] = ['done', 'failed', 'expired', 'cancelled'];

/**
 * - restart: a rolling restart of one workload (the pod template's restartedAt annotation, as
 *   `kubectl rollout restart` sets it)
 * - reapply: try a failed bundle (or every one) again now, the revision it rolled back from included
 * - drift-check: read every applied object back now instead of at the next periodic check
 * - rotate-certificate: the agent renews its site certificate now, through its periodic renewal path
 * - factory-reset (admin): the agent wipes its state directory (desired state, outbox, telemetry,
 *   sealing key, identity; not its machine id) and joins again with its join token; the hub knows the
 *   machine, so it is the same site record with the old certificates revoked. What runs in the cluster
 *   stays until the desired state fetched after joining replaces it.
 */
export const siteActions = [
  'restart',
  'reapply',
  'drift-check',
  'rotate-certificate',
  'factory-reset',
] as const;
export type SiteAction = (typeof siteActions)[number];

export const restartableKinds = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

export const ActionRequest = Type.Object(
  {
    action: Type.Enum(siteActions),
    /** restart: the workload */
    target: Type.Optional(
      Type.Object(
        { kind: Type.Enum(restartableKinds), namespace: KubeName, name: KubeName },
        { additionalProperties: false },
      ),
    ),
    /** reapply: one bundle (default: every failed one) */
    bundle: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    /** how long it waits for the site before it expires (default 1 h) */
    deadlineSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 7 * 86400 })),
  },
  { additionalProperties: false },
);
export type ActionRequest = Static<typeof ActionRequest>;

/** The most a single log request may bring back, so one viewer cannot flood a store's uplink. */
export const logLimits = {
  defaultBytes: 1024 * 1024,
  maxBytes: 8 * 1024 * 1024,
  /** pods one label selector may read at once */
  maxPods: 10,
  /** log requests waiting or running for one site at once */
  perSite: 4,
  /** one uploaded chunk */
  chunkBytes: 64 * 1024,
  /** how long a follow session lasts unless asked otherwise, and at most */
  followDefaultSeconds: 600,
  followMaxSeconds: 3600,
  /** what every follow session at one site together may upload per second (the agent paces to it) */
  followBytesPerSecond: 32 * 1024,
  /** how often a quiet follow session asks the hub whether its viewer is still there */
  followProbeMs: 5000,
} as const;

export const LogRequest = Type.Object(
  {
    namespace: KubeName,
    /** one pod by name, or `selector` */
    pod: Type.Optional(KubeName),
    /** a label selector as kubectl -l takes it (`app=till,tier!=cache`) */
    selector: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    container: Type.Optional(KubeName),
    sinceSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 86400 })),
    tailLines: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
    /** the most bytes to bring back, over all pods (default 1 MiB, at most 8 MiB) */
    limitBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: logLimits.maxBytes })),
    previous: Type.Optional(Type.Boolean()),
    /** keep reading lines as the container writes them (one pod), streamed through the hub */
    follow: Type.Optional(Type.Boolean()),
    /** follow: how long the session lasts at most (default 10 min, at most 1 h) */
    followSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: logLimits.followMaxSeconds })),
    /** how long it waits for the site before it expires (default 1 h) */
    deadlineSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 7 * 86400 })),
  },
  { additionalProperties: false },
);
export type LogRequest = Static<typeof LogRequest>;

export const OperationView = Type.Object({
  id: Type.String(),
  site: Type.String(),
  kind: Type.Enum(operationKinds),
  spec: Type.Record(Type.String(), Type.Unknown()),
  state: Type.Enum(operationStates),
  requestedBy: Type.String(),
  requestedAt: Timestamp,
  deadline: Timestamp,
  claimedAt: Type.Union([Timestamp, Type.Null()]),
  finishedAt: Type.Union([Timestamp, Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
  /** log bytes received */
  bytes: Type.Integer(),
});
export type OperationView = Static<typeof OperationView>;

export const LogPage = Type.Object({
  operation: OperationView,
  chunks: Type.Array(Type.Object({ seq: Type.Integer(), data: Type.String() })),
  /** the last chunk's seq (or `after`): ask with after=lastSeq for what follows */
  lastSeq: Type.Integer(),
  /** nothing more will come */
  done: Type.Boolean(),
});
export type LogPage = Static<typeof LogPage>;

// ---- agent side ----

/** What the agent gets for each operation it picks up. */
export const SiteOperation = Type.Object({
  id: Type.String(),
  kind: Type.Enum(operationKinds),
  spec: Type.Record(Type.String(), Type.Unknown()),
  deadline: Timestamp,
});
export type SiteOperation = Static<typeof SiteOperation>;

export const OperationResult = Type.Object(
  { ok: Type.Boolean(), message: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
);
export type OperationResult = Static<typeof OperationResult>;

/**
 * A chunk of log text; an empty one stores nothing and only asks whether the hub still wants more (a
 * quiet follow session learns so that its viewer left), with seq the last one sent (0 before any).
 */
export const LogChunk = Type.Object(
  {
    seq: Type.Integer({ minimum: 0 }),
    data: Type.String({ maxLength: logLimits.chunkBytes * 2 }),
  },
  { additionalProperties: false },
);
export type LogChunk = Static<typeof LogChunk>;

/** The hub's answer to a chunk: whether to keep sending (false once the limit, deadline or a cancel came). */
export const LogChunkAck = Type.Object({ more: Type.Boolean() });
export type LogChunkAck = Static<typeof LogChunkAck>;

/** The header on a desired-state answer that says operations wait for the agent. */
export const workHeader = 'outpost-work';
