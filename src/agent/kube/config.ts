// Finds how to reach the site's Kubernetes API: a kubeconfig (file, KUBECONFIG, ~/.kube/config) or the
// in-cluster service account. Client certificates and bearer tokens; exec plugins are refused clearly.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import type { TlsOptions } from '../../net/http-client.ts';

export interface KubeConnection {
  server: string;
  tls: TlsOptions;
  /** current bearer token, re-read each time (service-account tokens rotate) */
  token?: () => string;
  /** where the settings came from, for logs */
  source: string;
}

export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

/** Where the kubelet mounts a pod's service account; OUTPOST_SERVICE_ACCOUNT_DIR moves it (tests, sidecars). */
export function serviceAccountDir(): string {
  return process.env.OUTPOST_SERVICE_ACCOUNT_DIR || '/var/run/secrets/kubernetes.io/serviceaccount';
}

interface Named<T> {
  name: string;
  [key: string]: unknown;
  value?: T;
}

function pick<T>(list: unknown, name: string, field: string, what: string): T {
  const entry = (Array.isArray(list) ? (list as Named<T>[]) : []).find((e) => e?.name === name);
  if (!entry || typeof entry[field] !== 'object')
    throw new KubeConfigError(`kubeconfig has no ${what} named "${name}"`);
  return entry[field] as T;
}

function fileOrData(base: string, data: unknown, file: unknown): Buffer | undefined {
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64');
  if (typeof file === 'string' && file) return readFileSync(isAbsolute(file) ? file : join(base, file));
  return undefined;
}

/** Loads a kubeconfig file; context defaults to its current-context. */
export function kubeConfigFromFile(path: string, context?: string): KubeConnection {
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(path, 'utf8'), { version: '1.1' }) as Record<string, unknown>;
  } catch (e) {
    throw new KubeConfigError(`cannot read kubeconfig ${path}: ${(e as Error).message}`);
  }
  const ctxName = context ?? (doc['current-context'] as string | undefined);
  if (!ctxName) throw new KubeConfigError(`kubeconfig ${path} has no current-context; pass a context`);
  const ctx = pick<{ cluster: string; user: string }>(doc.contexts, ctxName, 'context', 'context');
  const cluster = pick<Record<string, unknown>>(doc.clusters, ctx.cluster, 'cluster', 'cluster');
  const user = pick<Record<string, unknown>>(doc.users, ctx.user, 'user', 'user');
  const base = dirname(path);
  if (typeof cluster.server !== 'string') throw new KubeConfigError(`cluster "${ctx.cluster}" has no server`);
  if (user.exec || user['auth-provider']) {
    throw new KubeConfigError(
      `user "${ctx.user}" authenticates through an exec or auth-provider plugin, which the agent does not run; give it a client certificate or a token`,
    );
  }
  const tls: TlsOptions = {
    ca: fileOrData(base, cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: fileOrData(base, user['client-certificate-data'], user['client-certificate']),
    key: fileOrData(base, user['client-key-data'], user['client-key']),
    insecure: cluster['insecure-skip-tls-verify'] === true,
  };
  const conn: KubeConnection = {
    server: cluster.server,
    tls,
    source: `kubeconfig ${path} (context ${ctxName})`,
  };
  if (typeof user.token === 'string' && user.token) {
    const token = user.token;
    conn.token = () => token;
  } else if (typeof user.tokenFile === 'string') {
    const file = isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile);
    conn.token = () => readFileSync(file, 'utf8').trim();
  }
  return conn;
}

/** The pod's service account, as every in-cluster client uses it. */
export function inClusterConfig(): KubeConnection {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host)
    throw new KubeConfigError(
      'not running in a cluster (KUBERNETES_SERVICE_HOST is unset) and no kubeconfig found',
    );
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const dir = serviceAccountDir();
  let ca: Buffer;
  try {
    ca = readFileSync(join(dir, 'ca.crt'));
  } catch (e) {
    throw new KubeConfigError(`cannot read the service account's CA in ${dir}: ${(e as Error).message}`);
  }
  return {
    server,
    tls: { ca },
    token: () => readFileSync(join(dir, 'token'), 'utf8').trim(),
    source: `in-cluster service account (${dir})`,
  };
}

/** kubeconfig given → it; else $KUBECONFIG; else in-cluster; else ~/.kube/config. */
export function resolveKubeConnection(kubeconfig?: string, context?: string): KubeConnection {
  const path = kubeconfig ?? process.env.KUBECONFIG?.split(':')[0];
  if (path) return kubeConfigFromFile(path, context);
  if (process.env.KUBERNETES_SERVICE_HOST) return inClusterConfig();
  return kubeConfigFromFile(join(homedir(), '.kube', 'config'), context);
}
