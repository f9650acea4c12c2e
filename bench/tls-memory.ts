// Benchmark: what one idle mTLS connection costs a bare Node TLS server (no hub code at all), to tell
// the hub's own memory per held long-poll apart from the floor set by Node and OpenSSL. A server with
// the hub's TLS settings (client certificates requested) holds N connections from a client process;
// RSS, V8 heap and external memory are read before and after, with a full GC.
// Run: node --expose-gc bench/tls-memory.ts [connections=4000] [--variant NAME]
// (a variant changes one server TLS option, to see whether it cuts native memory per idle connection;
// every variant keeps client certificates required and TLS 1.2 or later)

import { spawn } from 'node:child_process';
import { constants } from 'node:crypto';
import tls from 'node:tls';
import { createCa, issueCertificate } from '../src/pki/authority.ts';
import { generateKeyPair } from '../src/pki/keys.ts';
import { commit, machine } from './fleet.ts';
import { appendResults } from './results.ts';

const positional = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--variant');
const connections = Number(positional[1] ?? positional[0] ?? 4000);
const variantAt = process.argv.indexOf('--variant');
const variant = variantAt > 0 ? process.argv[variantAt + 1]! : 'relay';
/** server options on top of the relay's own (requestCert, TLS 1.2 at least) */
const variants: Record<string, tls.TlsOptions> = {
  relay: {},
  'tls1.2-only': { maxVersion: 'TLSv1.2' },
  'no-session-tickets': { secureOptions: constants.SSL_OP_NO_TICKET },
};
if (!variants[variant]) throw new Error(`--variant: one of ${Object.keys(variants).join(', ')}`);

async function client(): Promise<void> {
  const cfg = JSON.parse(process.argv[4]!) as { port: number; ca: string; cert: string; key: string };
  for (let i = 0; i < connections; i++) {
    const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', ...cfg });
    socket.on('error', () => {});
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));
  }
  setInterval(() => {}, 60_000);
}

async function server(): Promise<void> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 86400_000) };
  const ca = createCa({ commonName: 'bench CA', ...validity });
  const serverKeys = generateKeyPair();
  const serverCert = issueCertificate(ca, {
    publicKeyPem: serverKeys.publicKeyPem,
    commonName: 'localhost',
    dnsNames: ['localhost'],
    usage: 'server',
    ...validity,
  });
  const clientKeys = generateKeyPair();
  const clientCert = issueCertificate(ca, {
    publicKeyPem: clientKeys.publicKeyPem,
    commonName: 'site',
    usage: 'client',
    ...validity,
  });
  let held = 0;
  const srv = tls.createServer(
    {
      key: serverKeys.privateKeyPem,
      cert: serverCert.certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ...variants[variant],
    },
    () => {
      held++;
    },
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const gc = (globalThis as { gc?: () => void }).gc;
  const memory = () => {
    gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20, external: m.external / 2 ** 20 };
  };
  const before = memory();
  const child = spawn(
    process.execPath,
    [
      import.meta.filename,
      'client',
      String(connections),
      JSON.stringify({
        port: (srv.address() as { port: number }).port,
        ca: ca.certPem,
        cert: clientCert.certPem,
        key: clientKeys.privateKeyPem,
      }),
    ],
    { stdio: 'inherit' },
  );
  while (held < connections) await new Promise((r) => setTimeout(r, 250));
  await new Promise((r) => setTimeout(r, 2000));
  const after = memory();
  child.kill();
  await appendResults([
    {
      name: `tls-idle-connection-rss-kib${variant === 'relay' ? '' : `-${variant}`}`,
      value: Math.round(((after.rss - before.rss) * 1024) / connections),
      unit: 'KiB',
    },
  ]);
  const perConnection = (a: number, b: number) => Math.round(((a - b) * 1024) / connections);
  console.log(
    JSON.stringify(
      {
        benchmark: 'tls-memory',
        variant,
        connections,
        gcExposed: gc !== undefined,
        rssMiB: { before: Math.round(before.rss), after: Math.round(after.rss) },
        perConnectionKiB: {
          rss: perConnection(after.rss, before.rss),
          v8Heap: perConnection(after.heap, before.heap),
          external: perConnection(after.external, before.external),
        },
        machine: machine(),
        commit: commit(),
        date: new Date().toISOString().slice(0, 10),
      },
      null,
      2,
    ),
  );
  process.exit(0);
}

if (process.argv[2] === 'client') await client();
else await server();
