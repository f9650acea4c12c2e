// The layout of key-based cosign signatures of OCI artifacts and the check of their "simple signing"
// payload, which must name the artifact's digest and repository; the signature itself is checked by the caller.

import { OutpostError } from '../../../model/errors.ts';

/** The layer media type of a cosign signature manifest (`sha256-<hex>.sig`). */
export const simpleSigningMediaType = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** The layer annotation holding the base64 ASN.1 DER signature over the layer's bytes. */
export const signatureAnnotation = 'dev.cosignproject.cosign/signature';

/** One layer of a signature manifest: the payload's bytes and the signature annotated on it. */
export interface CosignSignature {
  payload: Uint8Array;
  /** base64, as cosign writes the annotation */
  signature: string;
}

/** The part of cosign's payload that matters; `optional` holds the signer's free-form annotations. */
interface SimpleSigning {
  critical?: {
    type?: unknown;
    image?: { 'docker-manifest-digest'?: unknown };
    identity?: { 'docker-reference'?: unknown };
  };
}

/** The tag cosign stores an artifact's signatures under, in the artifact's own repository. */
export function signatureTag(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new OutpostError('request_invalid', `${digest} is not a sha256 manifest digest`);
  return `sha256-${m[1]}.sig`;
}

/**
 * Why a simple-signing payload does not vouch for `digest` in `repository`, or undefined when it does.
 * The repository is compared without registry host, since a registry is often reached under more than
 * one name (127.0.0.1:5000, registry.local:5000) while the repository path is what the signer meant.
 */
export function payloadProblem(payload: Uint8Array, digest: string, repository: string): string | undefined {
  let body: SimpleSigning | null;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload)) as SimpleSigning | null;
  } catch {
    return 'the signed payload is not JSON';
  }
  const critical = body?.critical;
  if (critical?.type !== 'cosign container image signature') {
    return `the signed payload is of type ${String(critical?.type)}, not "cosign container image signature"`;
  }
  const signed = critical.image?.['docker-manifest-digest'];
  if (typeof signed !== 'string') return 'the signed payload names no critical.image.docker-manifest-digest';
  if (signed !== digest) return `the signed payload is for ${signed}, not ${digest}`;
  const reference = critical.identity?.['docker-reference'];
  if (typeof reference !== 'string') return 'the signed payload names no critical.identity.docker-reference';
  const path = reference.replace(/^(?:[^/]*[.:][^/]*|localhost)\//, '');
  if (path !== repository) return `the signed payload is for the repository ${reference}, not ${repository}`;
  return undefined;
}
