// The site's identity as the agent holds it: a machine id that survives reinstalls, its own key pair
// (the private key never leaves the state directory), and when to renew the client certificate.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** /etc/machine-id when the host has one (stable across agent reinstalls), else undefined. */
export async function hostMachineId(path = '/etc/machine-id'): Promise<string | undefined> {
  try {
    const id = (await readFile(path, 'utf8')).trim();
    return id.length >= 8 ? id : undefined;
  } catch {
    return undefined;
  }
}

export function newMachineId(): string {
  return randomUUID().replace(/-/g, '');
}

/** Renew at two thirds of the certificate's lifetime, so a site has a third of it to reach the hub. */
export function renewalDue(notBefore: Date, notAfter: Date): Date {
  const life = notAfter.getTime() - notBefore.getTime();
  return new Date(notBefore.getTime() + (life * 2) / 3);
}
