// Wire schemas of sealed secrets: a site's sealing public key as agents announce it, and the keys of a
// bundle's sites as `outpost secret seal` fetches them (GET /api/v1/sealing-keys).

import { type Static, Type } from 'typebox';

/** An X25519 public key: the base64url of its 32 raw bytes. */
export const SealingPublicKey = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' });

export const SealingKeyAnnouncement = Type.Object(
  { publicKey: SealingPublicKey },
  { additionalProperties: false },
);
export type SealingKeyAnnouncement = Static<typeof SealingKeyAnnouncement>;

export const SealingKeyAck = Type.Object({ keyId: Type.String(), changed: Type.Boolean() });
export type SealingKeyAck = Static<typeof SealingKeyAck>;

export const SealingKeysQuery = Type.Object(
  {
    bundle: Type.Optional(Type.String({ description: 'the sites this bundle is placed on' })),
    site: Type.Optional(Type.Array(Type.String(), { description: 'these sites (repeat the parameter)' })),
  },
  { additionalProperties: false },
);
export type SealingKeysQuery = Static<typeof SealingKeysQuery>;

export const SealingKeys = Type.Object({
  /** the bundle's namespace, the default for a Secret that names none */
  namespace: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  sites: Type.Array(Type.Object({ site: Type.String(), keyId: Type.String(), publicKey: SealingPublicKey })),
  /** sites asked for (or placed) that have sent no sealing key yet: nothing can be sealed to them */
  withoutKey: Type.Array(Type.String()),
});
export type SealingKeys = Static<typeof SealingKeys>;
