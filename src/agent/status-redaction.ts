// What the local page and /status.json never show: the values of the Secrets the site enforces (opened
// from SealedSecrets or written plainly) and anything shaped like an Outpost credential. Messages come
// from the API server, admission webhooks and the hub and may quote a manifest, so every string of the
// status is scrubbed before it is served.

import type { KubeObject } from '../model/manifest.ts';

const mark = '[redacted]';
/** Shorter values would blot out ordinary words and numbers; a secret that short protects little anyway. */
const minSecretLength = 4;
const credentials = [
  /olp_[A-Za-z0-9_-]{16,}/g,
  /oat_[A-Za-z0-9._-]{16,}/g,
  /outpost-join-v1\.[A-Za-z0-9_-]+/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];

/** The values of the Secrets among `objects`, as text and as the base64 a Secret's data holds. */
export function secretValuesOf(objects: readonly KubeObject[]): string[] {
  const out = new Set<string>();
  const add = (text: string) => {
    if (text.trim().length >= minSecretLength) out.add(text);
  };
  for (const o of objects) {
    if (o.kind !== 'Secret' || o.apiVersion !== 'v1') continue;
    for (const v of Object.values((o.data ?? {}) as Record<string, unknown>)) {
      if (typeof v !== 'string') continue;
      add(v);
      add(Buffer.from(v, 'base64').toString('utf8'));
    }
    for (const v of Object.values((o.stringData ?? {}) as Record<string, unknown>)) {
      if (typeof v !== 'string') continue;
      add(v);
      add(Buffer.from(v).toString('base64'));
    }
  }
  return [...out];
}

/** `value` with every string scrubbed of `secrets` and of credentials; longest secrets first. */
export function redacted<T>(value: T, secrets: readonly string[]): T {
  const ordered = [...secrets].sort((a, b) => b.length - a.length);
  const scrub = (text: string): string => {
    let out = text;
    for (const s of ordered) if (out.includes(s)) out = out.split(s).join(mark);
    for (const pattern of credentials) out = out.replace(pattern, mark);
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrub(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
