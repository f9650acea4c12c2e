// Benchmark: report ingestion on one hub process (file-backed SQLite, 10,000 sites, two bundles).
// Each report runs the whole status path: sequence check, deployment rows, aggregate deltas, site
// attention and events in one transaction. Measured twice: calling ingestReport directly (the store
// path alone) and over loopback HTTP with autocannon in a separate process (auth, validation, JSON).
// Target (issue 16): >= 10,000 reports/s over HTTPS + mTLS on one hub core. Run: node bench/report-ingest.ts [sites] [reports]

import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServer } from '../src/hub/server.ts';
import { siteFromRow } from '../src/hub/sites/sites.ts';
import { ingestReport } from '../src/hub/status/reports.ts';
import type { Report } from '../src/model/wire.ts';
import { HttpClient } from '../src/net/http-client.ts';
import { issueCertificate } from '../src/pki/authority.ts';
import { generateKeyPair } from '../src/pki/keys.ts';
import { benchFleet, commit, formats, machine } from './fleet.ts';
import { appendResults } from './results.ts';
import { cpuSeconds, generatorCore, hubCore, onCore, pinSelf } from './support.ts';

const target = 10_000;

/** Report number k: site k mod n, in sequence; every 10th one moves a deployment's state. */
export function reportFor(
  k: number,
  n: number,
  digests: { pos: string; cameras: string },
  seqBase: number,
): Report {
  const i = k % n;
  const round = Math.floor(k / n);
  const state = k % 10 === 0 ? (round % 2 === 0 ? 'NotReady' : 'Failed') : 'Ready';
  const deployments: Report['deployments'] = [
    {
      bundle: 'pos',
      digest: digests.pos,
      state,
      counts: { total: 1, applied: 1, ready: state === 'Ready' ? 1 : 0 },
    },
  ];
  if (formats[i % formats.length] === 'max') {
    deployments.push({
      bundle: 'cameras',
      digest: digests.cameras,
      state: 'Ready',
      counts: { total: 1, applied: 1, ready: 1 },
    });
  }
  return { seq: seqBase + round + 1, deployments };
}

/** The load, from its own process: one mTLS connection per site certificate, reports in sequence. */
async function loadGenerator(): Promise<void> {
  const [url, identitiesFile, amount, pos, cameras, seqBase] = process.argv.slice(3);
  const { ca, sites } = JSON.parse(await readFile(identitiesFile!, 'utf8')) as {
    ca: string;
    sites: Array<{ index: number; id: string; cert: string; key: string }>;
  };
  const n = sites.length;
  const total = Number(amount);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    sites.map(async (site) => {
      const http = new HttpClient(url!, { ca, cert: site.cert, key: site.key });
      // a connection speaks only for its own site, in that site's sequence
      for (let k = site.index; k < total; k += n) {
        const body = reportFor(k, n, { pos: pos!, cameras: cameras! }, Number(seqBase));
        const t = performance.now();
        try {
          const res = await http.request('POST', `/agent/v1/sites/${site.id}/report`, { body });
          if (res.status !== 200) non2xx++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
      http.close();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      rps: total / seconds,
      p99: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
      non2xx,
      errors,
      total,
      cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    }),
  );
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10_000);
  const reports = Number(process.argv[3] ?? 50_000);
  const fleet = await benchFleet(n);
  const ctx = fleet.ctx;
  const rows = await ctx.store.db
    .selectFrom('deployments')
    .select(['bundle', 'desired_digest'])
    .distinct()
    .execute();
  const digests = {
    pos: rows.find((r) => r.bundle === 'pos')!.desired_digest!,
    cameras: rows.find((r) => r.bundle === 'cameras')!.desired_digest!,
  };
  const siteRows = await ctx.store.db.selectFrom('sites').selectAll().orderBy('id').execute();
  const sites = siteRows.map(siteFromRow);

  // 1. the store path alone; CPU per report is the figure a busy machine bends least
  let start = performance.now();
  const directCpu0 = process.cpuUsage();
  let accepted = 0;
  for (let k = 0; k < reports; k++) {
    const r = await ingestReport(ctx, sites[k % n]!, reportFor(k, n, digests, 0));
    if (r.accepted) accepted++;
  }
  const direct = reports / ((performance.now() - start) / 1000);
  const directCpu = process.cpuUsage(directCpu0);
  const directCpuUs = (directCpu.user + directCpu.system) / reports;
  console.log(
    `direct ingestReport: ${reports} reports (${accepted} accepted) at ${direct.toFixed(0)} reports/s`,
  );

  // 2. over HTTPS with mTLS, load from another process: 32 sites, each on its own client certificate
  // (the reports rotate over those 32 sites; their deployments move the same way as above)
  const app = await buildServer(ctx, {
    https: { key: ctx.tls.serverKeyPem, cert: ctx.tls.serverCertPem, ca: ctx.tls.ca.certPem },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const identities = [];
  for (let i = 0; i < 32; i++) {
    const keys = generateKeyPair();
    const site = sites[i]!;
    const issued = issueCertificate(ctx.tls.ca, {
      publicKeyPem: keys.publicKeyPem,
      commonName: site.id,
      usage: 'client',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86400_000),
    });
    await ctx.store.db
      .insertInto('certificates')
      .values({
        serial: issued.serialHex,
        site_id: site.id,
        fingerprint: issued.fingerprintSha256,
        not_before: new Date().toISOString(),
        not_after: issued.notAfter.toISOString(),
        revoked_at: null,
      })
      .execute();
    identities.push({ index: i, id: site.id, cert: issued.certPem, key: keys.privateKeyPem });
  }
  const identitiesFile = join(tmpdir(), `outpost-bench-identities-${process.pid}.json`);
  await writeFile(identitiesFile, JSON.stringify({ ca: ctx.tls.ca.certPem, sites: identities }), {
    mode: 0o600,
  });
  const seqBase = Math.ceil(reports / n) + 1;
  start = performance.now();
  const hubCpu0 = await cpuSeconds(process.pid);
  const [command, args] = onCore(generatorCore, process.execPath, [
    import.meta.filename,
    '--load',
    `https://127.0.0.1:${port}`,
    identitiesFile,
    String(reports),
    digests.pos,
    digests.cameras,
    String(seqBase),
  ]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  await new Promise((done) => child.on('exit', done));
  const seconds = (performance.now() - start) / 1000;
  const hubCpuSeconds = (await cpuSeconds(process.pid)) - hubCpu0;
  const hubCores = hubCpuSeconds / seconds;
  const http = JSON.parse(out) as {
    rps: number;
    p99: number;
    non2xx: number;
    errors: number;
    total: number;
    cpuSeconds: number;
  };
  const genCores = http.cpuSeconds / seconds;
  const events = await ctx.store.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  console.log(
    `HTTPS + mTLS (32 site certificates, one connection each): ${http.total} reports at ${http.rps.toFixed(0)} reports/s, p99 ${http.p99} ms, non-2xx ${http.non2xx}, errors ${http.errors}`,
  );
  console.log(`events stored: ${events.n}`);
  console.log(
    `CPU split: hub (this process) on core ${hubCore}, generator on core ${generatorCore}; hub used ${hubCores.toFixed(2)} cores, generator ${genCores.toFixed(2)} cores`,
  );
  const mtlsCpuUs = (hubCpuSeconds * 1e6) / http.total;
  console.log(
    `hub CPU per report: ${directCpuUs.toFixed(0)} µs directly, ${mtlsCpuUs.toFixed(0)} µs over HTTPS + mTLS`,
  );

  const verdict = (v: number) => `${v >= target ? 'met' : 'MISSED'} (target ≥ ${target}/s)`;
  console.log(
    `\n${new Date().toISOString().slice(0, 10)} · ${machine()} · commit ${commit()} · ${n} sites, ${reports} reports per mode\n`,
  );
  console.log('| path | reports/s | target |\n|---|---|---|');
  console.log(`| ingestReport (store, aggregates, events) | ${direct.toFixed(0)} | ${verdict(direct)} |`);
  console.log(
    `| HTTPS + mTLS POST /agent/v1/sites/:id/report, 32 site certificates (p99 ${http.p99} ms; hub ${hubCores.toFixed(2)} cores, generator ${genCores.toFixed(2)}) | ${http.rps.toFixed(0)} | ${verdict(http.rps)} |`,
  );
  await appendResults([
    { name: 'report-ingest-mtls-per-s', value: Math.round(http.rps), unit: '1/s', target, op: '>=' },
    { name: 'report-ingest-mtls-p99-ms', value: http.p99, unit: 'ms' },
    { name: 'report-ingest-direct-per-s', value: Math.round(direct), unit: '1/s' },
    { name: 'report-ingest-direct-cpu-us-per-report', value: Math.round(directCpuUs), unit: 'µs' },
    // one hub core at 10,000 reports/s leaves 100 µs for each
    {
      name: 'report-ingest-mtls-hub-cpu-us-per-report',
      value: Math.round(mtlsCpuUs),
      unit: 'µs',
      target: 100,
      op: '<=',
    },
  ]);
  await app.close();
  await fleet.close();
}

if (import.meta.main) {
  if (process.argv[2] === '--load') await loadGenerator();
  else {
    pinSelf(hubCore);
    await main();
  }
}
