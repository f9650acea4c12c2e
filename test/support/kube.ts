// A real kube-apiserver backed by a real etcd, for integration tests (envtest style).
//
// startKube() finds the binaries with scripts/k8s-fixture.sh, makes a throwaway PKI with the openssl
// CLI, starts etcd and kube-apiserver on free loopback ports, waits for /readyz and hands back an admin
// kubeconfig plus a raw request helper. stop() tears everything down and removes the temp dir.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants as fsConstants, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** What KubeFixture.request resolves to: the HTTP status and the body, parsed JSON or else text. */
export interface KubeResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests poke at arbitrary apiserver responses
  body: any;
}

export interface KubeFixture {
  /** https://127.0.0.1:PORT */
  server: string;
  /** path of a kubeconfig file with admin (system:masters) client-certificate credentials, CA data inline */
  kubeconfigPath: string;
  /** the kubeconfig text itself */
  kubeconfig: string;
  /** CA PEM that signed the apiserver's serving cert */
  ca: string;
  /** admin client cert PEM (CN=admin, O=system:masters) */
  cert: string;
  /** admin client key PEM */
  key: string;
  /** how long startKube() took, binaries lookup included, in milliseconds */
  startupMs: number;
  /**
   * A raw JSON request to the apiserver as admin, e.g.
   * request('PATCH', '/apis/apps/v1/namespaces/x/deployments/y/status', body, 'application/merge-patch+json').
   * A string or Buffer body is sent as is; anything else is JSON-encoded. The response body is parsed as
   * JSON when it parses, else returned as text.
   */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse>;
  /**
   * Stops kube-apiserver (SIGTERM, as a rolling restart would) and starts it again on the same port
   * with the same etcd, so everything stored survives; resolves once it is ready again. `down` runs
   * while it is stopped.
   */
  restartApiserver(down?: () => Promise<void>): Promise<void>;
  /** Stops the apiserver, then etcd, and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartKubeOptions {
  /** receives progress lines (binaries, timings); silent by default */
  log?: (line: string) => void;
  /**
   * added to openssl's environment while the cluster's PKI is made: a clock moved back (libfaketime)
   * makes certificates a site whose clock is behind accepts, as it does a real cluster's, issued long ago
   */
  pkiEnv?: Record<string, string>;
}

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const ETCD_READY_TIMEOUT_MS = 30_000;
const APISERVER_READY_TIMEOUT_MS = 60_000;
const POLL_MS = 200;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 30;

// Every child we start, so a process 'exit' handler can SIGKILL whatever is still running.
const live = new Set<ChildProcess>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export async function startKube(opts: StartKubeOptions = {}): Promise<KubeFixture> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const since = (t: number) => `${Math.round(performance.now() - t)}ms`;

  const binDir = await findBinaries(log);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-kube-'));
  const procs: Proc[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // apiserver first (it was started last), then etcd
      for (const p of [...procs].reverse()) await p.stop();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const tPki = performance.now();
    const pki = await makePki(dir, opts.pkiEnv ?? {});
    log(`kube fixture: PKI generated in ${since(tPki)} (${dir})`);

    const [etcdPort, etcdPeerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;

    const tEtcd = performance.now();
    const etcd = startProc('etcd', path.join(binDir, 'etcd'), path.join(dir, 'etcd.log'), [
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--unsafe-no-fsync=true',
      `--quota-backend-bytes=${8 * 1024 * 1024 * 1024}`,
    ]);
    procs.push(etcd);
    await waitReady(etcd, ETCD_READY_TIMEOUT_MS, async () => {
      const res = await httpGet(`${etcdUrl}/health`);
      if (res.status !== 200) return false;
      try {
        return (JSON.parse(res.body) as { health?: unknown }).health === 'true';
      } catch {
        return false;
      }
    });
    log(`kube fixture: etcd healthy at ${etcdUrl} in ${since(tEtcd)}`);

    const tApi = performance.now();
    const certDir = path.join(dir, 'apiserver');
    await mkdir(certDir, { recursive: true });
    const startApiserver = () =>
      startProc('kube-apiserver', path.join(binDir, 'kube-apiserver'), path.join(dir, 'kube-apiserver.log'), [
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${certDir}`,
        `--tls-cert-file=${pki.files.servingCert}`,
        `--tls-private-key-file=${pki.files.servingKey}`,
        `--secure-port=${apiPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--authorization-mode=RBAC',
        '--disable-admission-plugins=ServiceAccount',
        `--client-ca-file=${pki.files.clientCaCert}`,
        `--service-account-issuer=${server}/`,
        `--service-account-key-file=${pki.files.saPub}`,
        `--service-account-signing-key-file=${pki.files.saKey}`,
      ]);
    let apiserver = startApiserver();
    procs.push(apiserver);

    const agent = new https.Agent({ ca: pki.ca, cert: pki.cert, key: pki.key, keepAlive: false });
    const request: KubeFixture['request'] = (method, reqPath, body, contentType) =>
      httpsJson(agent, server, method, reqPath, body, contentType);
    const apiserverReady = () =>
      waitReady(apiserver, APISERVER_READY_TIMEOUT_MS, async () => {
        const res = await httpsJson(agent, server, 'GET', '/readyz');
        return res.status === 200;
      });

    await apiserverReady();
    log(`kube fixture: kube-apiserver ready at ${server} in ${since(tApi)}`);

    const kubeconfig = `${JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'outpost-test',
            cluster: { server, 'certificate-authority-data': b64(pki.ca) },
          },
        ],
        users: [
          {
            name: 'admin',
            user: { 'client-certificate-data': b64(pki.cert), 'client-key-data': b64(pki.key) },
          },
        ],
        contexts: [
          {
            name: 'outpost-test',
            context: { cluster: 'outpost-test', user: 'admin', namespace: 'default' },
          },
        ],
        'current-context': 'outpost-test',
        preferences: {},
      },
      null,
      2,
    )}\n`;
    const kubeconfigPath = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });

    const startupMs = Math.round(performance.now() - t0);
    log(`kube fixture: started in ${startupMs}ms`);

    return {
      server,
      kubeconfigPath,
      kubeconfig,
      ca: pki.ca,
      cert: pki.cert,
      key: pki.key,
      startupMs,
      request,
      async restartApiserver(down) {
        const tRestart = performance.now();
        await apiserver.stop();
        await down?.();
        apiserver = startApiserver();
        procs[procs.indexOf(procs.find((p) => p.name === 'kube-apiserver')!)] = apiserver;
        await apiserverReady();
        log(`kube fixture: kube-apiserver restarted in ${since(tRestart)}`);
      },
      stop: async () => {
        agent.destroy();
        await stop();
      },
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

// ---- binaries ----

async function findBinaries(log: (line: string) => void): Promise<string> {
  const script = path.join(REPO_ROOT, 'scripts', 'k8s-fixture.sh');
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('bash', [script], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kube fixture: ${script} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
  const dir = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .at(-1);
  if (!dir) throw new Error(`kube fixture: ${script} printed no directory`);
  log(`kube fixture: binaries in ${dir}`);
  return dir;
}

// ---- PKI ----

interface Pki {
  ca: string;
  cert: string;
  key: string;
  files: {
    servingCert: string;
    servingKey: string;
    clientCaCert: string;
    saKey: string;
    saPub: string;
  };
}

const OPENSSL_CNF = `[ req ]
distinguished_name = dn
prompt = no

[ dn ]
CN = unused

[ ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash

[ serving ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, IP:10.0.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc
authorityKeyIdentifier = keyid

[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

async function openssl(cwd: string, env: Record<string, string>, args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd, env: { ...process.env, ...env } });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kube fixture: openssl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

const serial = () =>
  `0x${randomBytes(16)
    .toString('hex')
    .replace(/^[89a-f]/, '7')}`;

async function ecKey(cwd: string, env: Record<string, string>, out: string): Promise<void> {
  await openssl(cwd, env, [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    out,
  ]);
}

async function selfSignedCa(
  cwd: string,
  env: Record<string, string>,
  name: string,
  cn: string,
): Promise<void> {
  await ecKey(cwd, env, `${name}.key`);
  await openssl(cwd, env, [
    'req',
    '-x509',
    '-new',
    '-config',
    'openssl.cnf',
    '-key',
    `${name}.key`,
    '-subj',
    `/CN=${cn}`,
    '-extensions',
    'ca',
    '-set_serial',
    serial(),
    '-days',
    '7',
    '-out',
    `${name}.crt`,
  ]);
}

async function signedCert(
  cwd: string,
  env: Record<string, string>,
  name: string,
  subj: string,
  ca: string,
  ext: string,
): Promise<void> {
  await ecKey(cwd, env, `${name}.key`);
  await openssl(cwd, env, [
    'req',
    '-new',
    '-config',
    'openssl.cnf',
    '-key',
    `${name}.key`,
    '-subj',
    subj,
    '-out',
    `${name}.csr`,
  ]);
  await openssl(cwd, env, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    serial(),
    '-days',
    '7',
    '-sha256',
    '-extfile',
    'openssl.cnf',
    '-extensions',
    ext,
    '-out',
    `${name}.crt`,
  ]);
}

async function makePki(dir: string, env: Record<string, string>): Promise<Pki> {
  const cwd = path.join(dir, 'pki');
  await mkdir(cwd, { recursive: true, mode: 0o700 });
  await writeFile(path.join(cwd, 'openssl.cnf'), OPENSSL_CNF);
  await Promise.all([
    (async () => {
      await selfSignedCa(cwd, env, 'ca', 'outpost-test-ca');
      await signedCert(cwd, env, 'serving', '/CN=kube-apiserver', 'ca', 'serving');
    })(),
    (async () => {
      await selfSignedCa(cwd, env, 'client-ca', 'outpost-test-client-ca');
      await signedCert(cwd, env, 'admin', '/O=system:masters/CN=admin', 'client-ca', 'client');
    })(),
    (async () => {
      await openssl(cwd, env, [
        'genpkey',
        '-algorithm',
        'RSA',
        '-pkeyopt',
        'rsa_keygen_bits:2048',
        '-out',
        'sa.key',
      ]);
      await openssl(cwd, env, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
    })(),
  ]);
  const f = (name: string) => path.join(cwd, name);
  return {
    ca: await readFile(f('ca.crt'), 'utf8'),
    cert: await readFile(f('admin.crt'), 'utf8'),
    key: await readFile(f('admin.key'), 'utf8'),
    files: {
      servingCert: f('serving.crt'),
      servingKey: f('serving.key'),
      clientCaCert: f('client-ca.crt'),
      saKey: f('sa.key'),
      saPub: f('sa.pub'),
    },
  };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

// ---- ports ----

async function freePorts(n: number): Promise<number[]> {
  // Hold every listener open until all ports are known, so the kernel does not hand out one twice.
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      ports.push((srv.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

// ---- child processes ----

interface Proc {
  name: string;
  logPath: string;
  child: ChildProcess;
  /** set once the process has exited (or failed to spawn) */
  exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  exited: Promise<void>;
  stop(): Promise<void>;
}

let setprivPath: string | null | undefined;

/** util-linux setpriv, to give children a parent-death signal; null where unavailable. */
function findSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform !== 'linux') return setprivPath;
  for (const d of (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/bin'])) {
    if (!d) continue;
    const candidate = path.join(d, 'setpriv');
    try {
      accessSync(candidate, fsConstants.X_OK);
      setprivPath = candidate;
      break;
    } catch {
      // keep looking
    }
  }
  return setprivPath;
}

function startProc(name: string, bin: string, logPath: string, args: string[]): Proc {
  installExitHandler();
  const fd = openSync(logPath, 'a');
  // With setpriv the child gets SIGKILL when this process dies, even when it dies to a signal and the
  // 'exit' handler never runs. setpriv execs the binary, so the pid is the binary's own.
  const setpriv = findSetpriv();
  const [cmd, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, args];
  let child: ChildProcess;
  try {
    child = spawn(cmd, argv, { stdio: ['ignore', fd, fd], env: process.env });
  } finally {
    closeSync(fd);
  }
  live.add(child);
  const proc: Proc = {
    name,
    logPath,
    child,
    exit: undefined,
    exited: new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        proc.exit ??= { code, signal };
        live.delete(child);
        resolve();
      });
      child.once('error', (error) => {
        // spawn failure: no 'exit' follows
        if (child.pid === undefined) {
          proc.exit ??= { code: null, signal: null, error };
          live.delete(child);
          resolve();
        }
      });
    }),
    async stop() {
      if (proc.exit) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          if (!proc.exit) child.kill('SIGKILL');
          resolve();
        }, STOP_GRACE_MS);
      });
      await Promise.race([proc.exited, killed]);
      clearTimeout(timer);
      await proc.exited;
    },
  };
  return proc;
}

async function logTail(p: Proc): Promise<string> {
  let text: string;
  try {
    text = await readFile(p.logPath, 'utf8');
  } catch (err) {
    return `(no log at ${p.logPath}: ${(err as Error).message})`;
  }
  const lines = text.trimEnd().split('\n');
  return lines.slice(-LOG_TAIL_LINES).join('\n');
}

function describeExit(p: Proc): string {
  const e = p.exit;
  if (!e) return 'still running';
  if (e.error) return `failed to start: ${e.error.message}`;
  return e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
}

async function waitReady(p: Proc, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const started = performance.now();
  let lastProbeError = '';
  for (;;) {
    if (p.exit) {
      throw new Error(
        `kube fixture: ${p.name} ${describeExit(p)} before it was ready; last lines of ${p.logPath}:\n${await logTail(p)}`,
      );
    }
    try {
      if (await probe()) return;
      lastProbeError = '';
    } catch (err) {
      lastProbeError = (err as Error).message;
    }
    if (performance.now() - started > timeoutMs) {
      throw new Error(
        `kube fixture: ${p.name} not ready after ${timeoutMs / 1000}s${lastProbeError ? ` (last probe: ${lastProbeError})` : ''}; last lines of ${p.logPath}:\n${await logTail(p)}`,
      );
    }
    await Promise.race([new Promise((r) => setTimeout(r, POLL_MS)), p.exited]);
  }
}

// ---- HTTP ----

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 2_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout requesting ${url}`)));
    req.on('error', reject);
  });
}

function httpsJson(
  agent: https.Agent,
  server: string,
  method: string,
  reqPath: string,
  body?: unknown,
  contentType?: string,
): Promise<KubeResponse> {
  let payload: Buffer | undefined;
  if (body !== undefined) {
    payload = Buffer.isBuffer(body)
      ? body
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (payload) {
    headers['content-type'] = contentType ?? 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(reqPath, server),
      { method, agent, headers, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if (text !== '') {
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: keep the text
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${reqPath}`)));
    req.on('error', reject);
    req.end(payload);
  });
}
