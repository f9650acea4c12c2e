// Request and response schemas of the fleet-definition parts of the operator API: git sources and
// their syncs, plan (what would change on each site) and explain (why a bundle is or is not on a site).

import { type Static, Type } from 'typebox';
import { BundleFiles } from './wire.ts';

const Timestamp = Type.String({ format: 'date-time' });
const SourceName = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });
const EnvName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' });

/** One problem in a file, as a rejected commit or a plan lists them. */
export const Problem = Type.Object({
  code: Type.String(),
  message: Type.String(),
  file: Type.Optional(Type.String()),
  line: Type.Optional(Type.Integer()),
  site: Type.Optional(Type.String()),
});
export type Problem = Static<typeof Problem>;

export const SourceAuth = Type.Object(
  {
    username: Type.Optional(Type.String({ maxLength: 256 })),
    /** names the hub environment variable holding the password or token (never the secret itself) */
    passwordEnv: Type.Optional(EnvName),
    /** git over HTTP(S): names the hub environment variable holding a bearer token */
    tokenEnv: Type.Optional(EnvName),
    /** git over SSH: a file on the hub holding the deploy key (a private key) */
    privateKeyFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    /** git over SSH: or the hub environment variable holding the deploy key's text */
    privateKeyEnv: Type.Optional(EnvName),
    /** git over SSH: known_hosts line(s) pinning the server's host key (required) */
    knownHosts: Type.Optional(Type.String({ minLength: 1, maxLength: 16_384 })),
  },
  { additionalProperties: false },
);

export const SourceRequest = Type.Object(
  {
    name: SourceName,
    /** git: https://…, http://…, ssh://…, USER@HOST:PATH, file://… or a path on the hub; OCI: oci://HOST/REPOSITORY */
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    /** git: branch or tag (default main); OCI: tag (default latest) */
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /** OCI: follow the highest tag in this semver range (e.g. ">=1.4.0 <2.0.0", "~1.4") instead of a tag */
    semver: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /** OCI: reach the registry over plain HTTP */
    insecure: Type.Optional(Type.Boolean()),
    /** OCI: a cosign public key (PEM, ECDSA P-256); each revision must carry a valid signature by it */
    verifyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 16_384 })),
    /** folder inside the repository or artifact (default: the root) */
    path: Type.Optional(Type.String({ maxLength: 1024 })),
    intervalSeconds: Type.Optional(Type.Integer({ minimum: 5, maximum: 86_400 })),
    auth: Type.Optional(SourceAuth),
    /** the team that owns the source's bundles: tokens bound to it may sync it and change nothing else */
    team: Type.Optional(Type.String({ pattern: '^[a-z0-9][-a-z0-9_.]{0,62}$' })),
  },
  { additionalProperties: false },
);
export type SourceRequest = Static<typeof SourceRequest>;

export const SourceView = Type.Object({
  name: Type.String(),
  /** git or oci, from the URL */
  kind: Type.Enum(['git', 'oci']),
  url: Type.String(),
  ref: Type.String(),
  semver: Type.Optional(Type.String()),
  insecure: Type.Optional(Type.Boolean()),
  /** OCI: the cosign public key revisions must be signed with */
  verifyKey: Type.Optional(Type.String()),
  path: Type.String(),
  intervalSeconds: Type.Integer(),
  auth: SourceAuth,
  team: Type.Optional(Type.String()),
  /** POST here with the webhook secret to sync now */
  webhook: Type.String(),
  lastAttemptAt: Type.Union([Timestamp, Type.Null()]),
  /** why the last fetch failed, when it did (the revision was never read) */
  lastError: Type.Union([Type.String(), Type.Null()]),
  /** `commit` is a git commit, or the manifest digest of an OCI artifact */
  synced: Type.Union([Type.Object({ commit: Type.String(), at: Timestamp }), Type.Null()]),
  rejected: Type.Union([
    Type.Object({ commit: Type.String(), at: Timestamp, errors: Type.Array(Problem) }),
    Type.Null(),
  ]),
});
export type SourceView = Static<typeof SourceView>;

export const SourceCreated = Type.Object({
  source: SourceView,
  /** shown once: the shared secret for the webhook (HMAC key or X-Outpost-Webhook-Secret header) */
  webhookSecret: Type.String(),
});
export type SourceCreated = Static<typeof SourceCreated>;

export const SyncResult = Type.Object({
  status: Type.Enum(['synced', 'unchanged', 'rejected', 'failed']),
  commit: Type.Optional(Type.String()),
  /** bundles that got a new revision from this commit */
  changed: Type.Array(Type.String()),
  /** bundles removed from the repository at this commit, now unplaced */
  deleted: Type.Array(Type.String()),
  /** why the commit was rejected (nothing changed) or the fetch failed */
  errors: Type.Array(Problem),
  /** sites a new revision cannot be rendered or placed for; each keeps what it runs */
  failed: Type.Array(Type.Object({ bundle: Type.String(), site: Type.String(), message: Type.String() })),
  /** SLOs and rollout strategies this commit wrote or removed, as KIND/NAME */
  documents: Type.Optional(
    Type.Object({ changed: Type.Array(Type.String()), deleted: Type.Array(Type.String()) }),
  ),
});
export type SyncResult = Static<typeof SyncResult>;

export const PlanRequest = Type.Union([
  BundleFiles,
  Type.Object(
    { source: SourceName, commit: Type.Optional(Type.String({ pattern: '^[0-9a-f]{40}$' })) },
    { additionalProperties: false },
  ),
]);
export type PlanRequest = Static<typeof PlanRequest>;

const ObjectChange = Type.Object({
  object: Type.String(),
  /** RFC 6902 operations turning what the site has now into what it would get */
  diff: Type.Array(Type.Unknown()),
});

export const SitePlan = Type.Object({
  site: Type.String(),
  bundle: Type.String(),
  action: Type.Enum(['place', 'update', 'remove', 'fail']),
  digest: Type.Optional(Type.String()),
  error: Type.Optional(Problem),
  added: Type.Array(Type.String()),
  changed: Type.Array(ObjectChange),
  removed: Type.Array(Type.String()),
});
export type SitePlan = Static<typeof SitePlan>;

export const PlanResult = Type.Object({
  commit: Type.Optional(Type.String()),
  /** per bundle: new, changed, unchanged or deleted */
  bundles: Type.Array(
    Type.Object({
      name: Type.String(),
      change: Type.Enum(['new', 'changed', 'unchanged', 'deleted']),
      sites: Type.Integer(),
    }),
  ),
  /** when not empty the definitions are invalid and nothing would ship */
  errors: Type.Array(Problem),
  /** only (site, bundle) pairs that would change */
  sites: Type.Array(SitePlan),
  /** bundles of a directory plan that Helm or Kustomize makes: they need the source's whole tree */
  skipped: Type.Optional(
    Type.Array(Type.Object({ name: Type.String(), file: Type.String(), reason: Type.String() })),
  ),
});
export type PlanResult = Static<typeof PlanResult>;

export const Explanation = Type.Object({
  bundle: Type.String(),
  revision: Type.Integer(),
  site: Type.String(),
  targeted: Type.Boolean(),
  reason: Type.String(),
  excluded: Type.Boolean(),
  included: Type.Boolean(),
  selector: Type.Object({
    matched: Type.Boolean(),
    requirements: Type.Array(Type.Object({ requirement: Type.String(), matched: Type.Boolean() })),
  }),
  cel: Type.Optional(
    Type.Object({
      expression: Type.String(),
      result: Type.Optional(Type.Boolean()),
      error: Type.Optional(Type.String()),
    }),
  ),
  /** set when the site is targeted but the revision cannot be rendered for it */
  renderError: Type.Optional(Type.String()),
  /** overlays (by index) that apply to the site */
  overlays: Type.Array(Type.Integer()),
  error: Type.Optional(Type.String()),
});
export type Explanation = Static<typeof Explanation>;
