// A join token is everything a new site needs to call home: the hub's URL, the fingerprint of the hub's
// CA (so the agent trusts that hub and no other), the bootstrap token and, when the hub has one, the
// release key's public half (so the site runs only agent releases it signed). One opaque string to paste.
// A relay's join token has the same shape under its own prefix, with the relay's one-time enrolment secret.

export interface JoinToken {
  hub: string;
  /** lower-case hex sha256 of the hub CA certificate (DER) */
  caSha256: string;
  /** the bootstrap token: "<id>.<secret>" */
  token: string;
  /** base64 SPKI of the Ed25519 key agent releases are signed with; absent: this site takes no upgrades */
  releaseKey?: string;
  /** regional relays the agent calls first, in order; the hub answers when none does */
  relays?: string[];
}

const prefix = 'outpost-join-v1.';
const relayPrefix = 'outpost-relay-join-v1.';

function toBase64Url(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function fromBase64Url(b64: string): string {
  const bin = atob(b64.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

export function encodeJoinToken(t: JoinToken): string {
  return (
    prefix +
    toBase64Url(
      JSON.stringify({
        hub: t.hub,
        ca: t.caSha256,
        token: t.token,
        ...(t.releaseKey ? { rk: t.releaseKey } : {}),
        ...(t.relays?.length ? { relays: t.relays } : {}),
      }),
    )
  );
}

/** Decodes a join token; undefined when the text is not one (a clear error is the caller's to give). */
export function decodeJoinToken(text: string): JoinToken | undefined {
  return decodeWith(text, prefix);
}

/** Decodes a relay's join token; undefined when the text is not one. */
export function decodeRelayJoinToken(text: string): Omit<JoinToken, 'relays' | 'releaseKey'> | undefined {
  const t = decodeWith(text, relayPrefix);
  return t && { hub: t.hub, caSha256: t.caSha256, token: t.token };
}

/** A relay's join token: the hub, its CA fingerprint and the relay's one-time enrolment secret. */
export function encodeRelayJoinToken(t: Omit<JoinToken, 'relays' | 'releaseKey'>): string {
  return relayPrefix + toBase64Url(JSON.stringify({ hub: t.hub, ca: t.caSha256, token: t.token }));
}

function decodeWith(text: string, want: string): JoinToken | undefined {
  if (!text.startsWith(want)) return undefined;
  try {
    const v = JSON.parse(fromBase64Url(text.slice(want.length))) as {
      hub?: unknown;
      ca?: unknown;
      token?: unknown;
      rk?: unknown;
      relays?: unknown;
    };
    if (typeof v.hub !== 'string' || typeof v.ca !== 'string' || typeof v.token !== 'string')
      return undefined;
    if (!/^[0-9a-f]{64}$/.test(v.ca)) return undefined;
    if (v.rk !== undefined && (typeof v.rk !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(v.rk)))
      return undefined;
    if (v.relays !== undefined && (!Array.isArray(v.relays) || !v.relays.every((r) => typeof r === 'string')))
      return undefined;
    return {
      hub: v.hub,
      caSha256: v.ca,
      token: v.token,
      ...(v.rk ? { releaseKey: v.rk } : {}),
      ...(v.relays ? { relays: v.relays as string[] } : {}),
    };
  } catch {
    return undefined;
  }
}
