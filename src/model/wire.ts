// Request and response schemas of the hub's two APIs (operator /api/v1, agent /agent/v1). One TypeBox
// object gives the TypeScript type, the server's validation and the OpenAPI document.

import { type Static, Type } from 'typebox';
import { deploymentStates, reportedStates } from './deployment.ts';
import { connectivities, lifecycles } from './site.ts';

const Name = Type.String({ minLength: 1, maxLength: 253 });
const StringMap = Type.Record(Type.String(), Type.String());
const Digest = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });
const Timestamp = Type.String({ format: 'date-time' });

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

const Counts = Type.Object({ total: Type.Integer(), applied: Type.Integer(), ready: Type.Integer() });

// ---- agent API ----

export const RegisterRequest = Type.Object({
  token: Type.String({ minLength: 1 }),
  name: Type.String({ minLength: 1, maxLength: 63 }),
  labels: Type.Optional(StringMap),
  properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  facts: Type.Optional(
    Type.Object({
      hostname: Type.Optional(Type.String()),
      kubernetesVersion: Type.Optional(Type.String()),
      agentVersion: Type.Optional(Type.String()),
    }),
  ),
});
export type RegisterRequest = Static<typeof RegisterRequest>;

export const RegisterResponse = Type.Object({
  siteId: Type.String(),
  name: Type.String(),
  credential: Type.String(),
});
export type RegisterResponse = Static<typeof RegisterResponse>;

export const DesiredDeployment = Type.Object({ bundle: Name, revision: Type.Integer(), digest: Digest });
export type DesiredDeployment = Static<typeof DesiredDeployment>;

export const DesiredState = Type.Object({
  site: Type.String(),
  digest: Digest,
  deployments: Type.Array(DesiredDeployment),
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
  seq: Type.Integer({ minimum: 1 }),
  deployments: Type.Array(DeploymentReport),
  /** bundles whose objects the agent has pruned from the site */
  removed: Type.Optional(Type.Array(Name)),
  /** reports the agent's outbox has dropped (oldest first, when full) since its state was made */
  droppedReports: Type.Optional(Type.Integer({ minimum: 0 })),
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
  lastSeen: Type.Union([Timestamp, Type.Null()]),
  desiredDigest: Type.Union([Digest, Type.Null()]),
  registeredAt: Timestamp,
});
export type SiteView = Static<typeof SiteView>;

export const SiteDetail = Type.Intersect([
  SiteView,
  Type.Object({ deployments: Type.Array(DeploymentView) }),
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
});
export type BundleView = Static<typeof BundleView>;

export const ApplyResult = Type.Object({
  bundle: Type.String(),
  revision: Type.Integer(),
  changed: Type.Boolean(),
  targeted: Type.Integer(),
});
export type ApplyResult = Static<typeof ApplyResult>;

export const FleetStatus = Type.Object({
  sites: Type.Object({
    total: Type.Integer(),
    byLifecycle: Type.Record(Type.String(), Type.Integer()),
    byConnectivity: Type.Record(Type.String(), Type.Integer()),
  }),
  deployments: Type.Object({ total: Type.Integer(), byState: Type.Record(Type.String(), Type.Integer()) }),
  bundles: Type.Array(
    Type.Object({
      name: Type.String(),
      revision: Type.Integer(),
      sites: Type.Integer(),
      byState: Type.Record(Type.String(), Type.Integer()),
    }),
  ),
});
export type FleetStatus = Static<typeof FleetStatus>;
