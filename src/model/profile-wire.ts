// Request and response schemas of the profile API (/api/v1/profiles): stored revisions, and each
// site's conformance to the profile it follows with counts by state and by layer.

import { type Static, Type } from 'typebox';
import { SiteStack } from './site-stack.ts';

const Timestamp = Type.String({ format: 'date-time' });
const State = Type.Enum(['Conformant', 'Upgrading', 'Behind', 'Ahead', 'Unknown']);

export const ProfileRevisionView = Type.Object({
  revision: Type.Integer(),
  /** the layers and deadline as stored (model/profile.ts ProfileSpec) */
  spec: Type.Record(Type.String(), Type.Unknown()),
  /** selector, cel, include, exclude: the same rules as a bundle's */
  placement: Type.Record(Type.String(), Type.Unknown()),
  digest: Type.String(),
  createdAt: Timestamp,
  /** the commit it came from, for a profile from a source */
  commit: Type.Optional(Type.String()),
});
export type ProfileRevisionView = Static<typeof ProfileRevisionView>;

export const ProfileView = Type.Object({
  name: Type.String(),
  revision: Type.Integer(),
  source: Type.Optional(Type.String()),
  /** sites following the profile, by conformance state */
  counts: Type.Record(Type.String(), Type.Integer()),
  updatedAt: Timestamp,
});
export type ProfileView = Static<typeof ProfileView>;

export const ProfileDetail = Type.Intersect([
  ProfileView,
  Type.Object({ revisions: Type.Array(ProfileRevisionView) }),
]);
export type ProfileDetail = Static<typeof ProfileDetail>;

export const LayerConformanceView = Type.Object({
  layer: Type.String(),
  state: State,
  behind: Type.Array(Type.String()),
  detail: Type.String(),
});

export const SiteConformanceView = Type.Object({
  site: Type.String(),
  revision: Type.Integer(),
  state: State,
  layers: Type.Array(LayerConformanceView),
});
export type SiteConformanceView = Static<typeof SiteConformanceView>;

export const ProfileConformance = Type.Object({
  profile: Type.String(),
  revision: Type.Integer(),
  counts: Type.Record(Type.String(), Type.Integer()),
  /** per layer, sites by state: how many are behind on kubernetes, on os, … */
  layers: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer())),
  sites: Type.Array(SiteConformanceView),
  /** sites matched by this profile and another: they follow neither */
  conflicts: Type.Array(Type.Object({ site: Type.String(), message: Type.String() })),
});
export type ProfileConformance = Static<typeof ProfileConformance>;

export const ProfileApplyResult = Type.Object({
  items: Type.Array(Type.Object({ name: Type.String(), revision: Type.Integer(), changed: Type.Boolean() })),
});
export type ProfileApplyResult = Static<typeof ProfileApplyResult>;

export const SiteStackView = Type.Object({
  site: Type.String(),
  /** what the agent last reported beneath its bundles; null until it has */
  stack: Type.Union([SiteStack, Type.Null()]),
  reportedAt: Type.Union([Timestamp, Type.Null()]),
  /** the profile the site follows, with its conformance; null when none matches it */
  conformance: Type.Union([SiteConformanceView, Type.Null()]),
  profile: Type.Union([Type.String(), Type.Null()]),
  /** why the site follows no profile although some match it */
  conflict: Type.Optional(Type.String()),
});
export type SiteStackView = Static<typeof SiteStackView>;

/** A profile rollout: one revision moving over the profile's sites in waves. */
export const ProfileRolloutView = Type.Object({
  id: Type.String(),
  profile: Type.String(),
  fromRevision: Type.Integer(),
  toRevision: Type.Integer(),
  /** Progressing, Baking, AwaitingApproval, Paused, Succeeded, Aborted, Superseded */
  phase: Type.String(),
  /** the current wave's name */
  wave: Type.String(),
  reason: Type.Optional(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  createdBy: Type.String(),
});
export type ProfileRolloutView = Static<typeof ProfileRolloutView>;

export const ProfileRolloutDetail = Type.Object({
  ...ProfileRolloutView.properties,
  /** every wave in order, with its sites counted by status (Waiting, Updating, Updated, Failed, Skipped) */
  waves: Type.Array(
    Type.Object({
      name: Type.String(),
      sites: Type.Integer(),
      statuses: Type.Record(Type.String(), Type.Integer()),
    }),
  ),
  failures: Type.Integer(),
  /** the sites marked Failed, with the layer, nodes and why (from their conformance) */
  failed: Type.Array(Type.Object({ site: Type.String(), wave: Type.String(), reason: Type.String() })),
  pendingActions: Type.Array(Type.String()),
  strategy: Type.Record(Type.String(), Type.Unknown()),
});
export type ProfileRolloutDetail = Static<typeof ProfileRolloutDetail>;
