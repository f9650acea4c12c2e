// Cosign signatures checked with the source's public key (node:crypto): an OCI revision is accepted only
// when one of its signatures verifies with the key and its payload vouches for that digest and repository.

import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { OutpostError } from '../../model/errors.ts';
import { type CosignSignature, payloadProblem } from './core/cosign.ts';

/**
 * Reads a PEM public key as `cosign generate-key-pair` writes it (ECDSA P-256); anything else is
 * request_invalid, so a source cannot be added with a key the hub would never accept a signature from.
 */
export function cosignPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new OutpostError(
      'request_invalid',
      `the verify key is not a PEM public key (${(e as Error).message})`,
    );
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const what =
      key.asymmetricKeyType === 'ec' ? `an EC key on ${curve}` : `a key of type ${key.asymmetricKeyType}`;
    throw new OutpostError(
      'request_invalid',
      `the verify key is ${what}; cosign key pairs (cosign generate-key-pair) are ECDSA P-256`,
    );
  }
  return key;
}

/**
 * Checks an artifact's cosign signatures: it is accepted when one of them is a valid signature by `key`
 * over a payload that names `digest` in `repository`. Otherwise signature_invalid, saying why each failed.
 */
export function verifyCosignSignatures(
  signatures: readonly CosignSignature[],
  key: KeyObject,
  digest: string,
  repository: string,
): void {
  if (signatures.length === 0) {
    throw new OutpostError('signature_invalid', `${repository}@${digest} has no cosign signature`);
  }
  const problems: string[] = [];
  for (const s of signatures) {
    const der = Buffer.from(s.signature, 'base64');
    if (!verify('sha256', s.payload, key, der)) {
      problems.push('a signature does not verify with the source key');
      continue;
    }
    const problem = payloadProblem(s.payload, digest, repository);
    if (!problem) return;
    problems.push(problem);
  }
  throw new OutpostError(
    'signature_invalid',
    `${repository}@${digest} has no valid cosign signature by the source key: ${[...new Set(problems)].join('; ')}`,
  );
}
