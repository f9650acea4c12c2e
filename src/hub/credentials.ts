// Secrets the hub hands out (API tokens, bootstrap tokens, registration tickets) are "<id>.<secret>":
// the id finds the row, the secret is kept only as its sha256 and compared in constant time, so a
// copy of the database lets nobody act as anyone.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(given: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(given), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Splits "<prefix>_<id>.<secret>" or "<id>.<secret>"; undefined when the shape is wrong. */
export function splitToken(token: string): { id: string; secret: string } | undefined {
  const m = /^(?:[a-z]+_)?([0-9a-f-]{36})\.([A-Za-z0-9_-]{16,})$/.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** The token of an `Authorization: Bearer …` header, or undefined. */
export function bearerOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
