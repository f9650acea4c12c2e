// Content addresses: every rendered desired state is identified by the sha256 of its canonical JSON,
// so the same content always has the same digest on the hub, on the wire and at the site.

// biome-ignore lint/correctness/noNodejsModules: hashing is pure computation; node:crypto is the one platform import render may use
import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so equal documents serialize to equal bytes. (JSON.stringify
 * puts integer-like keys first in numeric order; that is still deterministic, which is all a digest needs.)
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    // No prototype, so a `__proto__` key (legal in a ConfigMap) stays data instead of being swallowed.
    const out: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Digest(content: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

export function digestOf(value: unknown): string {
  return sha256Digest(canonicalJson(value));
}
