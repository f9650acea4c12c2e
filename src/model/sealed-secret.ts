// The SealedSecret document: a Kubernetes Secret whose values are sealed, value by value, to the sealing
// key of each site it is for, so the hub stores and serves only ciphertext. Pure: its shape, checks, and
// the narrowing of a document to the one site it is rendered for.
//
//   apiVersion: outpost.dev/v1
//   kind: SealedSecret
//   metadata: {name: till-credentials, namespace: pos, labels: {…}}   # become the Secret's
//   spec:
//     type: Opaque                                   # the Secret's type (default Opaque)
//     encryptedData:
//       api-key: {store-1: hpke1.KEYID.ENC.CT, store-2: …}           # per key of the Secret, per site

import type { KubeObject } from './manifest.ts';

export const sealedSecretApiVersion = 'outpost.dev/v1';
export const sealedSecretKind = 'SealedSecret';

/** What a sealed value says about itself: the key it is sealed to, and the HPKE enc and ciphertext. */
export interface EnvelopeParts {
  keyId: string;
  enc: string;
  ct: string;
}

export interface SealedSecretProblem {
  /** path in the document, e.g. ['spec', 'encryptedData', 'api-key', 'store-1'] */
  path: string[];
  message: string;
}

const envelopePattern = /^hpke1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22,})$/;
/** Secret keys, as Kubernetes allows them. */
const secretKeyPattern = /^[-._a-zA-Z0-9]+$/;
const siteNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const specFields = ['type', 'encryptedData'];

export function isSealedSecret(obj: { apiVersion?: unknown; kind?: unknown }): boolean {
  return obj.apiVersion === sealedSecretApiVersion && obj.kind === sealedSecretKind;
}

export function envelopeOf(parts: EnvelopeParts): string {
  return `hpke1.${parts.keyId}.${parts.enc}.${parts.ct}`;
}

export function envelopeParts(text: string): EnvelopeParts | undefined {
  const m = envelopePattern.exec(text);
  return m ? { keyId: m[1]!, enc: m[2]!, ct: m[3]! } : undefined;
}

/**
 * What a sealed value is bound to (the HPKE info): its Secret and key. A ciphertext copied into another
 * Secret, namespace or key does not open there.
 */
export function sealingContext(namespace: string, name: string, key: string): string {
  return `outpost.dev/v1 SealedSecret ${namespace}/${name} data ${key}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The first thing wrong with a SealedSecret document, or undefined. */
export function sealedSecretProblem(obj: KubeObject): SealedSecretProblem | undefined {
  if (typeof obj.metadata.namespace !== 'string' || obj.metadata.namespace === '')
    return { path: ['metadata', 'namespace'], message: 'is required: the values are sealed to it' };
  if (!isRecord(obj.spec)) return { path: ['spec'], message: 'is a mapping with encryptedData' };
  for (const key of Object.keys(obj.spec)) {
    if (!specFields.includes(key))
      return { path: ['spec', key], message: `unknown field (known: ${specFields.join(', ')})` };
  }
  if (obj.spec.type !== undefined && typeof obj.spec.type !== 'string')
    return { path: ['spec', 'type'], message: 'is a Secret type, e.g. Opaque' };
  const data = obj.spec.encryptedData;
  if (!isRecord(data) || Object.keys(data).length === 0)
    return {
      path: ['spec', 'encryptedData'],
      message: 'maps each key of the Secret to its values sealed per site (outpost secret seal)',
    };
  for (const [key, perSite] of Object.entries(data)) {
    if (!secretKeyPattern.test(key))
      return { path: ['spec', 'encryptedData', key], message: 'is not a valid Secret key' };
    if (!isRecord(perSite) || Object.keys(perSite).length === 0)
      return { path: ['spec', 'encryptedData', key], message: 'maps site names to sealed values' };
    for (const [site, value] of Object.entries(perSite)) {
      if (!siteNamePattern.test(site))
        return { path: ['spec', 'encryptedData', key, site], message: 'is not a site name' };
      if (typeof value !== 'string' || !envelopePattern.test(value))
        return {
          path: ['spec', 'encryptedData', key, site],
          message: 'is not a sealed value (hpke1.KEYID.ENC.CT, made by outpost secret seal)',
        };
    }
  }
  return undefined;
}

/**
 * The document as one site gets it: each key keeps only the value sealed for `site`. The keys with no
 * value for the site come back in `missing` (the site cannot have this Secret until it is sealed again).
 */
export function sealedSecretForSite(
  obj: KubeObject,
  site: string,
): { object: KubeObject; missing: string[] } {
  const spec = obj.spec as { type?: string; encryptedData: Record<string, Record<string, string>> };
  const narrowed: Record<string, Record<string, string>> = {};
  const missing: string[] = [];
  for (const [key, perSite] of Object.entries(spec.encryptedData)) {
    const value = Object.hasOwn(perSite, site) ? perSite[site] : undefined;
    if (value === undefined) missing.push(key);
    else narrowed[key] = { [site]: value };
  }
  return { object: { ...obj, spec: { ...spec, encryptedData: narrowed } }, missing };
}
