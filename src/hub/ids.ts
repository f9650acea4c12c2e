// Time-ordered ids for hub rows, from the pure layout in model/ids.ts with the platform's randomness.

import { randomBytes } from 'node:crypto';
import { timeOrderedId } from '../model/ids.ts';

export function newId(now: Date = new Date()): string {
  return timeOrderedId(now.getTime(), (n) => new Uint8Array(randomBytes(n)));
}
