// Troubleshooting tunnels into a site's Kubernetes API: what an operator asks for, and the pure rule
// that decides which requests a read-only or a write session may send through it.

import { type Static, Type } from 'typebox';

/** read: look, never change (the default); write: anything the agent's own credentials allow (admin only) */
export const tunnelModes = ['read', 'write'] as const;
export type TunnelMode = (typeof tunnelModes)[number];

/** The Upgrade protocol of the agent's request that turns its mTLS connection into the tunnel. */
export const tunnelUpgrade = 'outpost-tunnel';

/** How long a tunnel credential lives unless asked otherwise, and the longest it may. */
export const tunnelTtl = { defaultSeconds: 900, maxSeconds: 8 * 3600 } as const;

export const TunnelRequest = Type.Object(
  {
    mode: Type.Optional(Type.Enum(tunnelModes)),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: tunnelTtl.maxSeconds })),
  },
  { additionalProperties: false },
);
export type TunnelRequest = Static<typeof TunnelRequest>;

export const TunnelSessionView = Type.Object({
  id: Type.String(),
  site: Type.String(),
  mode: Type.Enum(tunnelModes),
  operator: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  /** the URL a Kubernetes client uses as its server */
  server: Type.String(),
  /** the bearer credential for `server`; shown once */
  token: Type.String(),
  /** PEM of the CA that signed the hub's serving certificate */
  caPem: Type.String(),
});
export type TunnelSessionView = Static<typeof TunnelSessionView>;

/** The agent's answer when its site turns tunnels away. */
export const TunnelRefusal = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
export type TunnelRefusal = Static<typeof TunnelRefusal>;

/** The Kubernetes request a path and method make, as an audit row and the mode rule name it. */
export interface KubeRequestShape {
  /** get, list, watch, create, update, patch, delete, deletecollection, or the method for non-resource paths */
  verb: string;
  /** e.g. `pods`, `deployments`; empty for non-resource paths such as /version */
  resource: string;
  /** e.g. `exec`, `log`, `status` */
  subresource: string;
}

/** Reads a Kubernetes API path (`/api/v1/namespaces/x/pods/y/log`) into verb, resource and subresource. */
export function kubeRequestShape(method: string, path: string, query: URLSearchParams): KubeRequestShape {
  const segments = path.split('/').filter((s) => s.length > 0);
  let rest: string[];
  if (segments[0] === 'api') rest = segments.slice(2);
  else if (segments[0] === 'apis') rest = segments.slice(3);
  else return { verb: method.toLowerCase(), resource: '', subresource: '' };
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource = '', name, subresource = ''] = rest;
  const named = name !== undefined;
  const watching = query.get('watch') === 'true' || query.get('watch') === '1';
  const verbs: Record<string, string> = {
    GET: watching ? 'watch' : named ? 'get' : 'list',
    HEAD: named ? 'get' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: named ? 'delete' : 'deletecollection',
  };
  return { verb: verbs[method.toUpperCase()] ?? method.toLowerCase(), resource, subresource };
}

/**
 * Subresources that open a stream into a container or the network behind the cluster (the tunnel
 * carries plain HTTP requests, not the protocol upgrades they need, and they reach past the API).
 */
const interactive = new Set(['exec', 'attach', 'portforward', 'proxy']);

/**
 * Why a session of `mode` may not send this request, or undefined when it may. A read-only session
 * reads everything but secrets (their values are credentials, not troubleshooting data); writes and
 * anything interactive are refused in it. A write session may send what the agent's credentials allow,
 * except the interactive subresources, which the tunnel does not carry.
 */
export function tunnelRefusal(mode: TunnelMode, shape: KubeRequestShape): string | undefined {
  if (interactive.has(shape.subresource) || shape.resource === 'proxy') {
    return `${shape.subresource || shape.resource} is not carried by the tunnel`;
  }
  if (mode === 'write') return undefined;
  if (!['get', 'list', 'watch'].includes(shape.verb)) {
    return `${shape.verb} changes the cluster; this tunnel is read-only (ask an admin for --write)`;
  }
  if (shape.resource === 'secrets') return 'secrets are not readable through a read-only tunnel';
  return undefined;
}
