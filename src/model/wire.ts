// Request and response schemas of the hub's two APIs (operator /api/v1, agent /agent/v1). One TypeBox
// object gives the TypeScript type, the server's validation and the OpenAPI document.

import { type Static, Type } from 'typebox';
import { deploymentStates, reportedStates } from './deployment.ts';
import { eventTypes } from './event.ts';
import { roles } from './roles.ts';
import { SealingPublicKey } from './sealing-wire.ts';
import { connectivities, lifecycles } from './site.ts';
import { SiteStack, StackTarget } from './site-stack.ts';

const Name = Type.String({ minLength: 1, maxLength: 253 });
const StringMap = Type.Record(Type.String(), Type.String());
const Digest = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });
const Timestamp = Type.String({ format: 'date-time' });
/**
 * A count or sequence number an agent sends: no larger than JavaScript holds exactly, since a larger one
 * stored would fail every later read of its row (and so every call of that site).
 */
const SafeCount = (minimum = 0) => Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER });

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    file: Type.Optional(Type.String()),
    line: Type.Optional(Type.Integer()),
    column: Type.Optional(Type.Integer()),
    site: Type.Optional(Type.String()),
  }),
});

export const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(StringMap),
    matchExpressions: Type.Optional(
      Type.Array(
        Type.Object({
          key: Type.String(),
          operator: Type.Enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: Type.Optional(Type.Array(Type.String())),
        }),
      ),
    ),
  },
  { additionalProperties: false },
);

const Counts = Type.Object({ total: SafeCount(), applied: SafeCount(), ready: SafeCount() });

// ---- agent API ----

export const Facts = Type.Object({
  hostname: Type.Optional(Type.String({ maxLength: 253 })),
  kubernetesVersion: Type.Optional(Type.String({ maxLength: 64 })),
  agentVersion: Type.Optional(Type.String({ maxLength: 64 })),
  capacity: Type.Optional(Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()]))),
  lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
  lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
  timezone: Type.Optional(Type.String({ maxLength: 64 })),
});
export type Facts = Static<typeof Facts>;

export const RegisterRequest = Type.Object({
  /** the bootstrap token ("<id>.<secret>") from the join token */
  token: Type.String({ minLength: 1, maxLength: 256 }),
  /** stable across reinstalls of the agent: /etc/machine-id or given */
  machineId: Type.String({ minLength: 8, maxLength: 128 }),
  /** the name the site asks for; the hub may keep an existing one */
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  labels: Type.Optional(StringMap),
  /** PKCS#10 request for the site's client certificate (ECDSA P-256) */
  csr: Type.String({ minLength: 1, maxLength: 8192 }),
  facts: Type.Optional(Facts),
  /** the site's X25519 sealing public key (base64url), which operators seal secrets to */
  sealingKey: Type.Optional(SealingPublicKey),
});
export type RegisterRequest = Static<typeof RegisterRequest>;

export const RegisterResponse = Type.Object({
  siteId: Type.String(),
  name: Type.String(),
  lifecycle: Type.Enum(lifecycles),
  /** the client certificate when the site is Active already */
  certificate: Type.Optional(Type.String()),
  /** a one-time ticket to collect the certificate once an operator approves the site */
  ticket: Type.Optional(Type.String()),
});
export type RegisterResponse = Static<typeof RegisterResponse>;

export const CertificateRequest = Type.Object({ ticket: Type.String({ minLength: 1, maxLength: 256 }) });
export const RenewRequest = Type.Object({ csr: Type.String({ minLength: 1, maxLength: 8192 }) });
export const CertificateResponse = Type.Object({
  lifecycle: Type.Enum(lifecycles),
  certificate: Type.Optional(Type.String()),
});
export type CertificateResponse = Static<typeof CertificateResponse>;

export const DesiredDeployment = Type.Object({ bundle: Name, revision: Type.Integer(), digest: Digest });
export type DesiredDeployment = Static<typeof DesiredDeployment>;

export const DesiredState = Type.Object({
  site: Type.String(),
  digest: Digest,
  deployments: Type.Array(DesiredDeployment),
  /** the host layers of the profile revision the site is given; absent when no profile places the site */
  stack: Type.Optional(StackTarget),
  /**
   * the hub's signature (pki/desired-signature.ts), set when a relay serves the state, so the agent can
   * tell a relay cannot have changed it: with `proof`, over the root of the tree of one relay answer's
   * sites (v2); without, over this site and digest alone (v1, older hubs)
   */
  signature: Type.Optional(Type.String({ maxLength: 256 })),
  /** this site's leaf's path to the signed root (pki/desired-tree.ts): sibling hashes, base64url */
  proof: Type.Optional(
    Type.Object({
      index: Type.Integer({ minimum: 0 }),
      count: Type.Integer({ minimum: 1 }),
      path: Type.Array(Type.String({ maxLength: 43 }), { maxItems: 32 }),
    }),
  ),
});
export type DesiredState = Static<typeof DesiredState>;

export const DeploymentReport = Type.Object({
  bundle: Name,
  digest: Digest,
  state: Type.Enum(reportedStates),
  message: Type.Optional(Type.String({ maxLength: 8192 })),
  counts: Counts,
  notReady: Type.Optional(
    Type.Array(Type.Object({ object: Type.String(), reason: Type.String() }), { maxItems: 1000 }),
  ),
  /** fields that differ from what the bundle sets, when drifted; values are JSON text, shortened */
  drift: Type.Optional(
    Type.Array(
      Type.Object({
        object: Type.String({ maxLength: 600 }),
        path: Type.String({ maxLength: 1024 }),
        want: Type.String({ maxLength: 256 }),
        got: Type.String({ maxLength: 256 }),
      }),
      { maxItems: 100 },
    ),
  ),
});
export type DeploymentReport = Static<typeof DeploymentReport>;

export const Report = Type.Object({
  /** per-site sequence number; a report at or below the last one seen is a replay and is ignored */
  seq: SafeCount(1),
  deployments: Type.Array(DeploymentReport),
  /** bundles whose objects the agent has pruned from the site */
  removed: Type.Optional(Type.Array(Name)),
  /** reports the agent's outbox has dropped (oldest first, when full) since its state was made */
  droppedReports: Type.Optional(SafeCount()),
  /** what the cluster runs beneath the bundles: each node's versions, and the agent's own */
  stack: Type.Optional(SiteStack),
});
export type Report = Static<typeof Report>;

export const ReportAck = Type.Object({ accepted: Type.Boolean(), lastSeq: Type.Integer() });

// ---- operator API ----

export const DeploymentView = Type.Object({
  site: Type.String(),
  bundle: Type.String(),
  desiredRevision: Type.Union([Type.Integer(), Type.Null()]),
  desiredDigest: Type.Union([Digest, Type.Null()]),
  appliedDigest: Type.Union([Digest, Type.Null()]),
  state: Type.Enum(deploymentStates),
  message: Type.String(),
  counts: Counts,
  notReady: Type.Array(Type.Object({ object: Type.String(), reason: Type.String() })),
  /** when the deployment last changed (a report repeating it changes nothing; see the site's lastReport) */
  updatedAt: Timestamp,
});
export type DeploymentView = Static<typeof DeploymentView>;

export const SiteView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  labels: StringMap,
  properties: Type.Record(Type.String(), Type.Unknown()),
  lifecycle: Type.Enum(lifecycles),
  connectivity: Type.Enum(connectivities),
  connectivitySince: Timestamp,
  lastSeen: Type.Union([Timestamp, Type.Null()]),
  /** when the site's last report in sequence arrived */
  lastReport: Type.Union([Timestamp, Type.Null()]),
  /** reports the site's agents dropped because their outbox was full, over every install of the site */
  droppedReports: SafeCount(),
  desiredDigest: Type.Union([Digest, Type.Null()]),
  registeredAt: Timestamp,
  certificateExpiresAt: Type.Union([Timestamp, Type.Null()]),
  /** what the site said about itself when it registered (host, Kubernetes version, capacity, agent) */
  facts: Type.Record(Type.String(), Type.Unknown()),
});
export type SiteView = Static<typeof SiteView>;

export const EventView = Type.Object({
  id: Type.Integer(),
  time: Timestamp,
  type: Type.Enum(eventTypes),
  site: Type.Union([Type.String(), Type.Null()]),
  bundle: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export type EventView = Static<typeof EventView>;

export const EventList = Type.Object({
  items: Type.Array(EventView),
  /** the id to pass as `after` for the next page (the last item's, or `after` itself when empty) */
  lastId: Type.Integer(),
});
export type EventList = Static<typeof EventList>;

export const AttentionItem = Type.Object({
  site: Type.String(),
  reason: Type.String({
    description: 'Failed, Drifted, Expired, Offline, NotReady, Stale, or ProfileBehind (ranked last)',
  }),
  detail: Type.String(),
  since: Timestamp,
  connectivity: Type.Enum(connectivities),
  lastSeen: Type.Union([Timestamp, Type.Null()]),
});
export type AttentionItem = Static<typeof AttentionItem>;

export const SiteDetail = Type.Intersect([
  SiteView,
  Type.Object({
    /** every deployment, each with every object not ready and its reason: never capped */
    deployments: Type.Array(DeploymentView),
    attention: Type.Union([
      Type.Object({ reason: Type.String(), detail: Type.String(), since: Timestamp }),
      Type.Null(),
    ]),
    /** the site's latest events, oldest first; older ones via GET /api/v1/events?site=NAME */
    events: Type.Array(EventView),
    moreEvents: Type.Boolean(),
  }),
]);
export type SiteDetail = Static<typeof SiteDetail>;

export const SitePatch = Type.Object(
  { labels: Type.Optional(StringMap), properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())) },
  { additionalProperties: false },
);
export type SitePatch = Static<typeof SitePatch>;

export const BundleFiles = Type.Object({
  files: Type.Array(
    Type.Object({
      path: Type.String({ minLength: 1 }),
      content: Type.String({ maxLength: 16 * 1024 * 1024 }),
    }),
    { minItems: 1, maxItems: 5000 },
  ),
  /**
   * a new revision with a rollout strategy starts its rollout at once, superseding the bundle's running
   * one; by default it waits (Queued) until that one ends
   */
  supersede: Type.Optional(Type.Boolean()),
});
export type BundleFiles = Static<typeof BundleFiles>;

export const BundleView = Type.Object({
  name: Type.String(),
  revision: Type.Integer(),
  namespace: Type.Union([Type.String(), Type.Null()]),
  selector: LabelSelector,
  objects: Type.Integer(),
  sites: Type.Integer(),
  states: Type.Record(Type.String(), Type.Integer()),
  updatedAt: Timestamp,
  /** the git source the bundle comes from, when it does */
  source: Type.Optional(Type.String()),
  /** the team that owns it, when one does */
  team: Type.Optional(Type.String()),
});
export type BundleView = Static<typeof BundleView>;

export const ApplyResult = Type.Object({
  bundle: Type.String(),
  revision: Type.Integer(),
  changed: Type.Boolean(),
  targeted: Type.Integer(),
  /** sites this revision cannot be rendered or placed for; each keeps what it runs */
  failed: Type.Optional(Type.Array(Type.Object({ site: Type.String(), message: Type.String() }))),
  /** the rollout this revision started (spec.rollout); without one every site gets it at once */
  rollout: Type.Optional(Type.String()),
});
export type ApplyResult = Static<typeof ApplyResult>;

const CountMap = Type.Record(Type.String(), Type.Integer());

export const FleetStatus = Type.Object({
  sites: Type.Object({
    total: Type.Integer(),
    byLifecycle: CountMap,
    /** Active sites */
    byConnectivity: CountMap,
  }),
  deployments: Type.Object({ total: Type.Integer(), byState: CountMap }),
  bundles: Type.Array(
    Type.Object({
      name: Type.String(),
      revision: Type.Integer(),
      sites: Type.Integer(),
      byState: CountMap,
      byConnectivity: CountMap,
      /** deployments already at `revision`, by state: how far the latest change has got */
      currentRevision: Type.Object({ sites: Type.Integer(), byState: CountMap }),
    }),
  ),
  /** one entry per value of each aggregated label (hub config aggregateLabels) */
  labels: Type.Array(
    Type.Object({
      label: Type.String(),
      value: Type.String(),
      sites: Type.Integer(),
      byConnectivity: CountMap,
      byState: CountMap,
    }),
  ),
});
export type FleetStatus = Static<typeof FleetStatus>;

export const ApproveRequest = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })), labels: Type.Optional(StringMap) },
  { additionalProperties: false },
);
export type ApproveRequest = Static<typeof ApproveRequest>;

export const BootstrapTokenRequest = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 256 })),
    labels: Type.Optional(StringMap),
    autoApprove: Type.Optional(Type.Boolean()),
    maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 31_536_000 })),
    /** relay URLs the join token lists: agents call them first, the hub when none answers */
    relays: Type.Optional(
      Type.Array(Type.String({ pattern: '^https://', maxLength: 2048 }), { maxItems: 16 }),
    ),
  },
  { additionalProperties: false },
);
export type BootstrapTokenRequest = Static<typeof BootstrapTokenRequest>;

export const BootstrapTokenView = Type.Object({
  id: Type.String(),
  description: Type.String(),
  labels: StringMap,
  autoApprove: Type.Boolean(),
  maxUses: Type.Integer(),
  uses: Type.Integer(),
  expiresAt: Timestamp,
  revoked: Type.Boolean(),
  createdAt: Timestamp,
  createdBy: Type.String(),
});

export const BootstrapTokenCreated = Type.Object({
  /** shown once: paste it into `outpost agent --join-token` */
  joinToken: Type.String(),
  token: BootstrapTokenView,
});

/** A role over the sites a selector picks (all without one) and the bundles a team owns (any without). */
export const RoleBinding = Type.Object(
  {
    role: Type.Enum(roles),
    sites: Type.Optional(LabelSelector),
    team: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  },
  { additionalProperties: false },
);

export const ApiTokenRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    role: Type.Enum(roles),
    /** the token's reach; without, one binding of `role` over every site and bundle */
    bindings: Type.Optional(Type.Array(RoleBinding, { minItems: 1, maxItems: 20 })),
  },
  { additionalProperties: false },
);
export const ApiTokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** the strongest role of its bindings */
  role: Type.Enum(roles),
  bindings: Type.Array(RoleBinding),
  createdAt: Timestamp,
  createdBy: Type.String(),
  revoked: Type.Boolean(),
});
export const ApiTokenCreated = Type.Object({ token: Type.String(), apiToken: ApiTokenView });

export const AuditEntry = Type.Object({
  id: Type.String(),
  at: Timestamp,
  actor: Type.String(),
  action: Type.String(),
  target: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  source: Type.String(),
});
// ---- fleet queries ----

const FieldName = Type.String({
  minLength: 1,
  maxLength: 300,
  description:
    'label:KEY, property:KEY, or one of connectivity, state, revision, bundle, lifecycle, name, profile, conformance',
});

export const QueryRequest = Type.Object(
  {
    selector: Type.Optional(LabelSelector),
    connectivity: Type.Optional(Type.Array(Type.Enum(connectivities), { minItems: 1 })),
    lifecycle: Type.Optional(Type.Array(Type.Enum(lifecycles), { minItems: 1 })),
    state: Type.Optional(
      Type.Array(Type.Enum(deploymentStates), {
        minItems: 1,
        description: "the named bundle's deployment state; without a bundle, the site's worst state",
      }),
    ),
    bundle: Type.Optional(Name),
    revision: Type.Optional(Type.Array(Type.Integer(), { minItems: 1 })),
    where: Type.Optional(
      Type.Unknown({
        description:
          'a predicate in JSON: {all:[…]}, {any:[…]}, {not:…}, {field, op, value|values}; ops =, !=, <, <=, >, >=, in, notIn, exists, notExists (see src/select/where.ts)',
      }),
    ),
    groupBy: Type.Optional(Type.Array(FieldName, { maxItems: 4 })),
    aggregates: Type.Optional(
      Type.Array(Type.String({ description: 'count, or sum|avg|min|max(property:KEY)' }), { maxItems: 16 }),
    ),
    sort: Type.Optional(
      Type.String({
        description:
          'lists: a field, lastSeen or lastReport (default name); groups: count, key or an aggregate (default key); prefix - for descending',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type QueryRequest = Static<typeof QueryRequest>;

const GroupValue = Type.Union([Type.String(), Type.Number(), Type.Null()]);

export const QuerySite = Type.Object({
  name: Type.String(),
  labels: StringMap,
  properties: Type.Record(Type.String(), Type.Unknown()),
  lifecycle: Type.Enum(lifecycles),
  connectivity: Type.Enum(connectivities),
  state: Type.Union([Type.Enum(deploymentStates), Type.Null()]),
  revision: Type.Union([Type.Integer(), Type.Null()]),
  lastSeen: Type.Union([Timestamp, Type.Null()]),
  lastReport: Type.Union([Timestamp, Type.Null()]),
  attention: Type.Union([Type.String(), Type.Null()]),
});
export type QuerySite = Static<typeof QuerySite>;

export const QueryGroup = Type.Object({
  /** one value per groupBy field, in order (null: the field is absent) */
  key: Type.Record(Type.String(), GroupValue),
  count: Type.Integer(),
  values: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])),
});
export type QueryGroup = Static<typeof QueryGroup>;

export const QueryResult = Type.Object({
  /** list queries (no groupBy) */
  sites: Type.Optional(Type.Array(QuerySite)),
  /** grouped queries */
  groups: Type.Optional(Type.Array(QueryGroup)),
  /** pass as `cursor` (same query) for the next page; null on the last page */
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type QueryResult = Static<typeof QueryResult>;

export const rolloutActions = [
  'pause',
  'resume',
  'promote',
  'approve',
  'abort',
  'rollback',
  'retryFailed',
] as const;

export const RolloutView = Type.Object({
  id: Type.String(),
  bundle: Type.String(),
  fromRevision: Type.Integer(),
  toRevision: Type.Integer(),
  phase: Type.String(),
  /** the current wave's name */
  wave: Type.String(),
  reason: Type.Optional(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  createdBy: Type.String(),
});
export type RolloutView = Static<typeof RolloutView>;

export const RolloutDetail = Type.Object({
  ...RolloutView.properties,
  /** every wave in order, with its sites counted by status (Waiting, Updating, Updated, Failed, …) */
  waves: Type.Array(Type.Object({ name: Type.String(), sites: Type.Integer(), statuses: CountMap })),
  /** sites not started (or skipped) because they are offline; they get the revision when they return */
  waitingOffline: Type.Integer(),
  failures: Type.Integer(),
  /** operator actions queued for the next step */
  pendingActions: Type.Array(Type.String()),
  strategy: Type.Record(Type.String(), Type.Unknown()),
  /**
   * each gate of the strategy evaluated now, as the controller judges it: the aggregate over updated sites
   * (observed), against the baseline when the gate compares, and the verdict with its reason
   */
  gates: Type.Array(
    Type.Object({
      /** the gate's name, or its metric */
      gate: Type.String(),
      metric: Type.String(),
      op: Type.String(),
      threshold: Type.Number(),
      result: Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('no-data')]),
      observed: Type.Optional(Type.Number()),
      baseline: Type.Optional(Type.Number()),
      reason: Type.String(),
    }),
  ),
});
export type RolloutDetail = Static<typeof RolloutDetail>;

export const RolloutRequest = Type.Object({
  bundle: Name,
  /** a rollout strategy (see README); the bundle's own spec.rollout, or the defaults, when left out */
  strategy: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  /** start at once, superseding the bundle's running rollout; by default the new one waits for it */
  supersede: Type.Optional(Type.Boolean()),
});
export type RolloutRequest = Static<typeof RolloutRequest>;

export const StrategyRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    /** a rollout strategy document (see README); checked, defaults filled in when a rollout uses it */
    strategy: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type StrategyRequest = Static<typeof StrategyRequest>;

export const StrategyView = Type.Object({
  name: Type.String(),
  /** as written; a rollout fills in the defaults */
  strategy: Type.Record(Type.String(), Type.Unknown()),
  /** one of the strategies every hub has (canary, by-region, manual, emergency) */
  builtin: Type.Boolean(),
  /** the source whose fleet repository defines it; absent when built in or made through the API */
  source: Type.Optional(Type.String()),
  updatedAt: Type.Optional(Type.String({ format: 'date-time' })),
});
export type StrategyView = Static<typeof StrategyView>;

export const RolloutActionRequest = Type.Object({
  action: Type.Enum(rolloutActions),
  reason: Type.Optional(Type.String({ maxLength: 1000 })),
});
export type RolloutActionRequest = Static<typeof RolloutActionRequest>;
export type RolloutAction = (typeof rolloutActions)[number];

// ---- agent releases ----

export const AgentReleaseView = Type.Object({
  version: Type.String(),
  digest: Digest,
  size: Type.Integer(),
  /** base64 Ed25519 signature of the release statement (model/agent-release.ts) */
  signature: Type.String(),
  image: Type.Optional(Type.String()),
  createdAt: Timestamp,
  createdBy: Type.String(),
});
export type AgentReleaseView = Static<typeof AgentReleaseView>;
