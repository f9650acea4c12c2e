// A join token is everything a new site needs to call home: the hub's URL, the fingerprint of the hub's
// CA (so the agent trusts that hub and no other), the bootstrap token and, when the hub has one, the
// release key's public half (so the site runs only agent releases it signed). One opaque string to paste.

export interface JoinToken {
  hub: string;
  /** lower-case hex sha256 of the hub CA certificate (DER) */
  caSha256: string;
  /** the bootstrap token: "<id>.<secret>" */
  token: string;
  /** base64 SPKI of the Ed25519 key agent releases are signed with; absent: this site takes no upgrades */
  releaseKey?: string;
}

const prefix = 'outpost-join-v1.';

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
      }),
    )
  );
}

/** Decodes a join token; undefined when the text is not one (a clear error is the caller's to give). */
export function decodeJoinToken(text: string): JoinToken | undefined {
  if (!text.startsWith(prefix)) return undefined;
  try {
    const v = JSON.parse(fromBase64Url(text.slice(prefix.length))) as {
      hub?: unknown;
      ca?: unknown;
      token?: unknown;
      rk?: unknown;
    };
    if (typeof v.hub !== 'string' || typeof v.ca !== 'string' || typeof v.token !== 'string')
      return undefined;
    if (!/^[0-9a-f]{64}$/.test(v.ca)) return undefined;
    if (v.rk !== undefined && (typeof v.rk !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(v.rk)))
      return undefined;
    return { hub: v.hub, caSha256: v.ca, token: v.token, ...(v.rk ? { releaseKey: v.rk } : {}) };
  } catch {
    return undefined;
  }
}
