// The site's sealing key pair: made once, at the agent's first start, and kept in the state directory
// (mode 0600) apart from the TLS identity, so renewing the client certificate never changes it. Only a
// new state directory (a factory reset, a replaced box) makes a new one, and secrets are sealed again.

import { join } from 'node:path';
import { generateSealingKeyPair, type SealingKeyPair } from '../../pki/sealing.ts';
import { readJson, writeAtomic } from '../state/local-state.ts';

export const sealingKeyFile = 'sealing-key.json';

interface SavedSealingKey extends SealingKeyPair {
  kem: 'DHKEM(X25519, HKDF-SHA256)';
  createdAt: string;
}

/** The saved key pair, or a new one saved first. */
export async function siteSealingKey(stateDir: string): Promise<SealingKeyPair> {
  const path = join(stateDir, sealingKeyFile);
  const saved = await readJson<SavedSealingKey>(path);
  if (saved) return { publicKey: saved.publicKey, privateKey: saved.privateKey };
  const keys = await generateSealingKeyPair();
  const record: SavedSealingKey = {
    kem: 'DHKEM(X25519, HKDF-SHA256)',
    ...keys,
    createdAt: new Date().toISOString(),
  };
  await writeAtomic(path, JSON.stringify(record));
  return keys;
}
