// Who may read the local status page. On loopback, anyone on the machine (as before). Off loopback, where
// staff on the store network reach it, only someone holding the site's local access token: sent as a
// bearer header, or as the cookie a login form sets. The token is made when first needed, shown once, kept
// only as its sha256 (state dir, mode 0600) and rotated by a command; `--local-page-insecure` opts out.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { readJson, writeAtomic } from './state/local-state.ts';

export const localPageTokenFile = 'local-page-token.json';
export const localPageCookie = 'outpost_local_page';
const tokenPattern = /^olp_[A-Za-z0-9_-]{43}$/;

interface SavedToken {
  sha256: string;
  createdAt: string;
}

/** Whether a bind host only takes connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
  return isIP(h) === 4 && h.startsWith('127.');
}

const digestOf = (token: string) => createHash('sha256').update(token).digest();

/** Makes a new token and keeps its digest, replacing any earlier one; returns the token, to be shown once. */
export async function rotateLocalPageToken(stateDir: string): Promise<string> {
  const token = `olp_${randomBytes(32).toString('base64url')}`;
  const saved: SavedToken = { sha256: digestOf(token).toString('hex'), createdAt: new Date().toISOString() };
  await writeAtomic(join(stateDir, localPageTokenFile), JSON.stringify(saved));
  return token;
}

/** A new token when the site has none yet (to be shown once), else undefined: the one it has stays. */
export async function ensureLocalPageToken(stateDir: string): Promise<string | undefined> {
  if (await readJson<SavedToken>(join(stateDir, localPageTokenFile))) return undefined;
  return rotateLocalPageToken(stateDir);
}

/** The token a request presents: `Authorization: Bearer …`, else the login cookie. */
export function presentedToken(headers: { authorization?: string; cookie?: string }): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
  if (bearer) return bearer[1];
  for (const part of (headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === localPageCookie) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/**
 * Checks presented tokens against the saved digest, read again when the file changes, so a rotation
 * takes effect on the running agent at once. Compared in constant time.
 */
export class LocalPageAccess {
  readonly #path: string;
  #cached: { version: string; digest: Buffer | undefined } | undefined;

  constructor(stateDir: string) {
    this.#path = join(stateDir, localPageTokenFile);
  }

  async allows(token: string | undefined): Promise<boolean> {
    if (!token || !tokenPattern.test(token)) return false;
    const want = await this.#digest();
    return want !== undefined && timingSafeEqual(digestOf(token), want);
  }

  async #digest(): Promise<Buffer | undefined> {
    // every save is a new file (write, rename), so its inode and time tell a rotation apart
    let version: string;
    try {
      const info = await stat(this.#path);
      version = `${info.ino}:${info.mtimeMs}`;
    } catch {
      return undefined; // no token: nobody gets in off loopback
    }
    if (this.#cached?.version !== version) {
      const saved = await readJson<SavedToken>(this.#path);
      const digest =
        saved && /^[0-9a-f]{64}$/.test(saved.sha256) ? Buffer.from(saved.sha256, 'hex') : undefined;
      this.#cached = { version, digest };
    }
    return this.#cached.digest;
  }
}
