// Talking to the hub's operator API from the browser: the API token lives in sessionStorage (gone when
// the tab closes) and goes in the Authorization header of every request, never in a URL.

import { signal } from '@preact/signals';

const tokenKey = 'outpost.token';

export interface Me {
  tokenId: string;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
}

export const me = signal<Me | null>(null);

export function storedToken(): string | null {
  return sessionStorage.getItem(tokenKey);
}

export function signOut(): void {
  sessionStorage.removeItem(tokenKey);
  me.value = null;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function authHeaders(token = storedToken()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  token = storedToken(),
): Promise<T> {
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers: { ...authHeaders(token), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (res.status === 401 && token === storedToken()) me.value = null;
    throw new ApiError(
      res.status,
      err?.code ?? 'http_error',
      err?.message ?? `${res.status} ${res.statusText}`,
    );
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => api<T>('POST', path, body);

/** Checks a token and keeps it when the hub knows it. */
export async function signIn(token: string): Promise<Me> {
  const who = await api<Me>('GET', '/whoami', undefined, token);
  sessionStorage.setItem(tokenKey, token);
  me.value = who;
  return who;
}

export function canOperate(): boolean {
  return me.value?.role === 'operator' || me.value?.role === 'admin';
}
