// What operators read of a bundle's manifests, with Kubernetes Secret values taken out: each key of
// `data` and `stringData` (and the last-applied annotation that would repeat them) keeps its place and
// shows a digest of its value, so a change is visible and the value is not. Agents get the real objects.

import type { KubeObject } from '../model/manifest.ts';
import { canonicalJson, sha256Digest } from './digest.ts';

const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';
/** hex digits of the digest shown: enough to tell values apart, short enough to read */
const shownHex = 16;

export function isSecret(obj: { apiVersion?: unknown; kind?: unknown }): boolean {
  return obj.kind === 'Secret' && obj.apiVersion === 'v1';
}

function decodeBase64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * How a Secret value is shown: `redacted sha256:…` of its bytes (base64 `data` decoded first, so the
 * digest matches `printf %s VALUE | sha256sum`), truncated.
 */
export function redactedValue(value: unknown, base64: boolean): string {
  const bytes =
    typeof value !== 'string'
      ? canonicalJson(value ?? null)
      : base64
        ? (decodeBase64(value) ?? value)
        : value;
  return `redacted ${sha256Digest(bytes).slice(0, 'sha256:'.length + shownHex)}`;
}

function redactMap(map: unknown, base64: boolean): unknown {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return redactedValue(map, false);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(map)) {
    // defineProperty keeps a `__proto__` key as data
    Object.defineProperty(out, key, {
      value: redactedValue(value, base64),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** The object as an operator may see it: a Secret with its values replaced by digests, else itself. */
export function redactSecret(obj: KubeObject): KubeObject {
  if (!isSecret(obj)) return obj;
  const out: KubeObject = { ...obj };
  if (obj.data !== undefined) out.data = redactMap(obj.data, true);
  if (obj.stringData !== undefined) out.stringData = redactMap(obj.stringData, false);
  const annotations = obj.metadata?.annotations;
  if (annotations && typeof annotations === 'object' && Object.hasOwn(annotations, lastApplied)) {
    out.metadata = {
      ...obj.metadata,
      annotations: { ...annotations, [lastApplied]: redactedValue(annotations[lastApplied], false) },
    };
  }
  return out;
}

export function redactSecrets(objects: readonly KubeObject[]): KubeObject[] {
  return objects.map(redactSecret);
}
