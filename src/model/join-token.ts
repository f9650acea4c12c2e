// A join token is everything a new site needs to call home: the hub's URL, the fingerprint of the hub's
// CA (so the agent trusts that hub and no other) and the bootstrap token. One opaque string to paste.
// A relay's join token has the same shape under its own prefix, with the relay's one-time enrolment secret.

export interface JoinToken {
  hub: string;
  /** lower-case hex sha256 of the hub CA certificate (DER) */
  caSha256: string;
  /** the bootstrap token: "<id>.<secret>" */
  token: string;
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
  const relays = t.relays?.length ? { relays: t.relays } : {};
  return prefix + toBase64Url(JSON.stringify({ hub: t.hub, ca: t.caSha256, token: t.token, ...relays }));
}

/** A relay's join token: the hub, its CA fingerprint and the relay's one-time enrolment secret. */
export function encodeRelayJoinToken(t: Omit<JoinToken, 'relays'>): string {
  return relayPrefix + toBase64Url(JSON.stringify({ hub: t.hub, ca: t.caSha256, token: t.token }));
}

function decodeWith(text: string, want: string): JoinToken | undefined {
  if (!text.startsWith(want)) return undefined;
  try {
    const v = JSON.parse(fromBase64Url(text.slice(want.length))) as {
      hub?: unknown;
      ca?: unknown;
      token?: unknown;
      relays?: unknown;
    };
    if (typeof v.hub !== 'string' || typeof v.ca !== 'string' || typeof v.token !== 'string')
      return undefined;
    if (!/^[0-9a-f]{64}$/.test(v.ca)) return undefined;
    const token: JoinToken = { hub: v.hub, caSha256: v.ca, token: v.token };
    if (v.relays !== undefined) {
      if (!Array.isArray(v.relays) || !v.relays.every((r) => typeof r === 'string')) return undefined;
      token.relays = v.relays;
    }
    return token;
  } catch {
    return undefined;
  }
}

/** Decodes a join token; undefined when the text is not one (a clear error is the caller's to give). */
export function decodeJoinToken(text: string): JoinToken | undefined {
  return decodeWith(text, prefix);
}

/** Decodes a relay's join token; undefined when the text is not one. */
export function decodeRelayJoinToken(text: string): Omit<JoinToken, 'relays'> | undefined {
  return decodeWith(text, relayPrefix);
}
