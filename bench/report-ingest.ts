// Benchmark: report ingestion on one hub process (file-backed SQLite, 10,000 sites, two bundles).
// Each report runs the whole status path: sequence check, deployment rows, aggregate deltas, site
// attention and events in one transaction. Measured three ways: calling ingestReport directly (the
// store path alone), agents straight to the hub over HTTPS + mTLS from another process (auth,
// validation, JSON), and a relay enrolled through the API posting batches of many sites' reports
// over one mTLS connection (the path a 100,000-site fleet takes).
// Target (issue 16): >= 10,000 reports/s over HTTPS + mTLS on one hub core.
// A bare node:https server answering the same requests ('floor') shows what Node's TLS and HTTP cost alone.
// 'batches' measures the store path's CPU per report at the batch sizes the batcher hands over.
// Run: node bench/report-ingest.ts [sites] [reports] [modes=direct,mtls,relay; or floor, batches] [relay batch=2000]

import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createApiToken } from '../src/hub/identity/api-tokens.ts';
import { buildServer } from '../src/hub/server.ts';
import { type Site, siteFromRow } from '../src/hub/sites/sites.ts';
import { ingestReport, ingestReports } from '../src/hub/status/reports.ts';
import { decodeRelayJoinToken } from '../src/model/join-token.ts';
import type { RelayBatchAck } from '../src/model/relay-wire.ts';
import type { Report } from '../src/model/wire.ts';
import { HttpClient } from '../src/net/http-client.ts';
import { issueCertificate } from '../src/pki/authority.ts';
import { createCsr } from '../src/pki/csr.ts';
import { generateKeyPair } from '../src/pki/keys.ts';
import { benchFleet, commit, formats, machine } from './fleet.ts';
import { appendResults, type BenchFigure } from './results.ts';
import { cpuSeconds, generatorCore, hubCore, onCore, pinSelf } from './support.ts';

const target = 10_000;

/** Batch sizes the 'batches' mode measures: one report, what direct agents' batches hold, a relay's. */
const batchSizes = [1, 4, 11, 32, 256];

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

/** The relay's load, from its own process: batches of many sites' reports, one batch at a time per connection. */
async function relayLoadGenerator(): Promise<void> {
  const [url, identityFile, amount, n, pos, cameras, seqBase, batchSize, connections] = process.argv.slice(3);
  const { ca, cert, key, siteIds } = JSON.parse(await readFile(identityFile!, 'utf8')) as {
    ca: string;
    cert: string;
    key: string;
    siteIds: string[];
  };
  const total = Number(amount);
  const sites = Number(n);
  const perBatch = Number(batchSize);
  const lanes = Number(connections);
  // a site's reports go up one lane only (site index mod lanes), so they reach the hub in sequence;
  // the bodies are written before the clock starts, as the relay splices its stored JSON
  const bodies: string[][] = Array.from({ length: lanes }, () => []);
  for (let lane = 0; lane < lanes; lane++) {
    let items: string[] = [];
    let seen = new Set<string>();
    const flush = () => {
      const status = {
        connectedSites: sites,
        outbox: { pending: 0, bytes: 0, dropped: 0 },
        feedLagSeconds: 0,
      };
      bodies[lane]!.push(
        `{"items":[${items.join(',')}],"seen":${JSON.stringify([...seen])},"status":${JSON.stringify(status)}}`,
      );
      items = [];
      seen = new Set();
    };
    for (let k = lane; k < total; k += lanes) {
      const siteId = siteIds[k % sites]!;
      const report = reportFor(k, sites, { pos: pos!, cameras: cameras! }, Number(seqBase));
      items.push(`{"id":${k},"siteId":"${siteId}","kind":"report","report":${JSON.stringify(report)}}`);
      seen.add(siteId);
      if (items.length === perBatch) flush();
    }
    if (items.length > 0) flush();
  }
  const latencies: number[] = [];
  let stored = 0;
  let replays = 0;
  let refused = 0;
  let non2xx = 0;
  const started = performance.now();
  await Promise.all(
    bodies.map(async (batches) => {
      const http = new HttpClient(url!, { ca, cert, key });
      for (const body of batches) {
        const t = performance.now();
        const res = await http.request('POST', '/relay/v1/batches', { body, timeoutMs: 300_000 });
        latencies.push(performance.now() - t);
        if (res.status !== 200) {
          non2xx++;
          continue;
        }
        for (const r of (res.body as RelayBatchAck).results) {
          if (r.outcome === 'stored') stored++;
          else if (r.outcome === 'replay') replays++;
          else refused++;
        }
      }
      http.close();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      rps: total / seconds,
      batches: latencies.length,
      batchP50: Math.round(latencies[Math.floor(latencies.length * 0.5)] ?? 0),
      batchMax: Math.round(latencies[latencies.length - 1] ?? 0),
      stored,
      replays,
      refused,
      non2xx,
      total,
      cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    }),
  );
}

/** Runs a load generator mode of this file in its own process on the generator's core; its JSON line. */
async function generate<T>(args: string[]): Promise<T> {
  const [command, argv] = onCore(generatorCore, process.execPath, [import.meta.filename, ...args]);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  await new Promise((done) => child.on('exit', done));
  return JSON.parse(out) as T;
}

interface MtlsRun {
  rps: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
  cpuSeconds: number;
}

interface RelayRun {
  rps: number;
  batches: number;
  batchP50: number;
  batchMax: number;
  stored: number;
  replays: number;
  refused: number;
  non2xx: number;
  total: number;
  cpuSeconds: number;
}

/** The measured window in this process's CPU profile (`node --cpu-prof`; bench/cpu-profile.ts --from --to). */
function window(from: number): string {
  return `measured window: --from ${from.toFixed(1)} --to ${process.uptime().toFixed(1)}`;
}

/** Client certificates for the first sites, written where the load generator reads them. */
async function writeSiteIdentities(
  ctx: Awaited<ReturnType<typeof benchFleet>>['ctx'],
  sites: readonly Site[],
  file: string,
): Promise<void> {
  const identities = [];
  for (const [i, site] of sites.entries()) {
    const keys = generateKeyPair();
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
  await writeFile(file, JSON.stringify({ ca: ctx.tls.ca.certPem, sites: identities }), { mode: 0o600 });
}

/**
 * A bare node:https server with the hub's TLS settings that reads a report, parses it, checks the
 * client certificate was verified and answers the ack: what Node itself costs per request here.
 */
async function floorServer(tls: {
  serverKeyPem: string;
  serverCertPem: string;
  ca: { certPem: string };
}): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(
    {
      key: tls.serverKeyPem,
      cert: tls.serverCertPem,
      ca: tls.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (!(req.socket as TLSSocket).authorized) {
          res.writeHead(401).end();
          return;
        }
        const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Report;
        const ack = JSON.stringify({ accepted: true, lastSeq: report.seq });
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(ack),
        });
        res.end(ack);
      });
    },
  );
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10_000);
  const reports = Number(process.argv[3] ?? 50_000);
  const modes = new Set((process.argv[4] ?? 'direct,mtls,relay').split(','));
  const relayBatch = Number(process.argv[5] ?? 2000);
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
  // each mode's reports follow the previous mode's in every site's sequence
  const rounds = Math.ceil(reports / n) + 1;
  const table: string[] = [];
  const figures: BenchFigure[] = [];
  const verdict = (v: number) => `${v >= target ? 'met' : 'MISSED'} (target ≥ ${target}/s)`;

  // 1. the store path alone; CPU per report is the figure a busy machine bends least
  if (modes.has('direct')) {
    const start = performance.now();
    const from = process.uptime();
    const cpu0 = process.cpuUsage();
    let accepted = 0;
    for (let k = 0; k < reports; k++) {
      const r = await ingestReport(ctx, sites[k % n]!, reportFor(k, n, digests, 0));
      if (r.accepted) accepted++;
    }
    const direct = reports / ((performance.now() - start) / 1000);
    console.log(window(from));
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = (cpu.user + cpu.system) / reports;
    console.log(
      `direct ingestReport: ${reports} reports (${accepted} accepted) at ${direct.toFixed(0)} reports/s, ${cpuUs.toFixed(0)} µs CPU each`,
    );
    table.push(`| ingestReport (store, aggregates, events) | ${direct.toFixed(0)} | ${verdict(direct)} |`);
    figures.push(
      { name: 'report-ingest-direct-per-s', value: Math.round(direct), unit: '1/s' },
      { name: 'report-ingest-direct-cpu-us-per-report', value: Math.round(cpuUs), unit: 'µs' },
    );
  }

  const app = await buildServer(ctx, {
    https: { key: ctx.tls.serverKeyPem, cert: ctx.tls.serverCertPem, ca: ctx.tls.ca.certPem },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const url = `https://127.0.0.1:${port}`;
  const identitiesFile = join(tmpdir(), `outpost-bench-identities-${process.pid}.json`);

  // 2. agents straight to the hub over HTTPS with mTLS, load from another process: 32 sites, each on
  // its own client certificate (the reports rotate over those 32 sites, moving as above)
  if (modes.has('mtls') || modes.has('floor')) {
    await writeSiteIdentities(ctx, sites.slice(0, 32), identitiesFile);
  }
  const siteLoad = async (
    target: string,
    label: string,
  ): Promise<{ http: MtlsRun; cpuUs: number; cores: number }> => {
    const start = performance.now();
    const from = process.uptime();
    const hubCpu0 = await cpuSeconds(process.pid);
    const http = await generate<MtlsRun>([
      '--load',
      target,
      identitiesFile,
      String(reports),
      digests.pos,
      digests.cameras,
      String(rounds),
    ]);
    const seconds = (performance.now() - start) / 1000;
    console.log(window(from));
    const hubCpuSeconds = (await cpuSeconds(process.pid)) - hubCpu0;
    const cpuUs = (hubCpuSeconds * 1e6) / http.total;
    const cores = hubCpuSeconds / seconds;
    console.log(
      `${label} (32 site certificates, one connection each): ${http.total} reports at ${http.rps.toFixed(0)} reports/s, p99 ${http.p99} ms, non-2xx ${http.non2xx}, errors ${http.errors}; hub ${cores.toFixed(2)} cores, ${cpuUs.toFixed(0)} µs per report; generator ${(http.cpuSeconds / seconds).toFixed(2)} cores`,
    );
    return { http, cpuUs, cores };
  };
  if (modes.has('mtls')) {
    const { http, cpuUs, cores } = await siteLoad(url, 'HTTPS + mTLS');
    table.push(
      `| HTTPS + mTLS POST /agent/v1/sites/:id/report, 32 site certificates (p99 ${http.p99} ms; hub ${cores.toFixed(2)} cores, ${cpuUs.toFixed(0)} µs CPU per report) | ${http.rps.toFixed(0)} | ${verdict(http.rps)} |`,
    );
    figures.push(
      { name: 'report-ingest-mtls-per-s', value: Math.round(http.rps), unit: '1/s', target, op: '>=' },
      { name: 'report-ingest-mtls-p99-ms', value: http.p99, unit: 'ms' },
      // one hub core at 10,000 reports/s leaves 100 µs for each
      {
        name: 'report-ingest-mtls-hub-cpu-us-per-report',
        value: Math.round(cpuUs),
        unit: 'µs',
        target: 100,
        op: '<=',
      },
    );
  }

  // 2b. the floor under the hub's own work: bare node:https with the hub's TLS settings, in this
  // process, answering the same requests from the same generator with an ack and nothing else
  if (modes.has('floor')) {
    const floor = await floorServer(ctx.tls);
    const { http, cpuUs, cores } = await siteLoad(floor.url, 'bare node:https floor');
    await floor.close();
    table.push(
      `| bare node:https + mTLS answering the same requests (parse, ack; no store): the floor (p99 ${http.p99} ms; ${cores.toFixed(2)} cores, ${cpuUs.toFixed(0)} µs CPU per request) | ${http.rps.toFixed(0)} | ${verdict(http.rps)} |`,
    );
    figures.push(
      { name: 'report-ingest-floor-https-per-s', value: Math.round(http.rps), unit: '1/s' },
      { name: 'report-ingest-floor-https-cpu-us-per-request', value: Math.round(cpuUs), unit: 'µs' },
    );
  }

  // 3. a relay, enrolled through the API as an operator would, posts batches of many sites' reports
  // over one mTLS connection: the path agents behind relays take
  if (modes.has('relay')) {
    const admin = await createApiToken(ctx, { name: 'bench', source: 'bench' }, 'bench', 'admin');
    const operator = new HttpClient(url, { ca: ctx.tls.ca.certPem }, () => ({
      authorization: `Bearer ${admin.token}`,
    }));
    const created = await operator.request('POST', '/api/v1/relays', {
      body: { name: 'bench-relay', selector: {} },
    });
    operator.close();
    if (created.status !== 201) throw new Error(`relay create: HTTP ${created.status}`);
    const joinToken = decodeRelayJoinToken((created.body as { joinToken: string }).joinToken)!;
    const keys = generateKeyPair();
    const anonymous = new HttpClient(url, { ca: ctx.tls.ca.certPem });
    const enrolled = await anonymous.request('POST', '/relay/v1/enrol', {
      body: {
        token: joinToken.token,
        csr: createCsr({ commonName: 'relay', keyPem: keys.privateKeyPem }),
        names: ['relay.bench'],
      },
    });
    anonymous.close();
    if (enrolled.status !== 200) throw new Error(`relay enrol: HTTP ${enrolled.status}`);
    await writeFile(
      identitiesFile,
      JSON.stringify({
        ca: ctx.tls.ca.certPem,
        cert: (enrolled.body as { clientCertPem: string }).clientCertPem,
        key: keys.privateKeyPem,
        siteIds: sites.map((s) => s.id),
      }),
      { mode: 0o600 },
    );
    const start = performance.now();
    const from = process.uptime();
    const hubCpu0 = await cpuSeconds(process.pid);
    const relay = await generate<RelayRun>([
      '--relay',
      url,
      identitiesFile,
      String(reports),
      String(n),
      digests.pos,
      digests.cameras,
      String(rounds + Math.ceil(reports / 32) + 1),
      String(relayBatch),
      '1',
    ]);
    const seconds = (performance.now() - start) / 1000;
    console.log(window(from));
    const hubCpuSeconds = (await cpuSeconds(process.pid)) - hubCpu0;
    const cpuUs = (hubCpuSeconds * 1e6) / relay.total;
    console.log(
      `relay batches of ${relayBatch} over one mTLS connection: ${relay.total} reports for ${n} sites at ${relay.rps.toFixed(0)} reports/s (${relay.stored} stored, ${relay.replays} replays, ${relay.refused} refused, non-2xx ${relay.non2xx}); batch p50 ${relay.batchP50} ms, max ${relay.batchMax} ms; hub ${(hubCpuSeconds / seconds).toFixed(2)} cores, ${cpuUs.toFixed(0)} µs per report; generator ${(relay.cpuSeconds / seconds).toFixed(2)} cores`,
    );
    table.push(
      `| relay POST /relay/v1/batches, ${relayBatch} reports of ${n} sites per batch, one connection (hub ${(hubCpuSeconds / seconds).toFixed(2)} cores, ${cpuUs.toFixed(0)} µs CPU per report) | ${relay.rps.toFixed(0)} | ${verdict(relay.rps)} |`,
    );
    figures.push(
      {
        name: 'report-ingest-relay-batch-per-s',
        value: Math.round(relay.rps),
        unit: '1/s',
        target,
        op: '>=',
      },
      { name: 'report-ingest-relay-batch-hub-cpu-us-per-report', value: Math.round(cpuUs), unit: 'µs' },
    );
  }

  // 4. the store path in batches of given sizes, as the batcher would hand them over: what a batch's own
  // work (commit, event insert, conformance query) costs each report at that size
  if (modes.has('batches')) {
    for (const [j, size] of batchSizes.entries()) {
      // after every other mode's reports in each site's sequence
      const seqBase = 1_000_000 + j * rounds;
      const from = process.uptime();
      const cpu0 = process.cpuUsage();
      for (let k = 0; k < reports; k += size) {
        const batch = [];
        for (let i = k; i < Math.min(k + size, reports); i++) {
          batch.push({ site: sites[i % n]!, report: reportFor(i, n, digests, seqBase) });
        }
        await ingestReports(ctx, batch);
      }
      const cpu = process.cpuUsage(cpu0);
      const cpuUs = (cpu.user + cpu.system) / reports;
      console.log(window(from));
      console.log(`ingestReports in batches of ${size}: ${cpuUs.toFixed(0)} µs CPU per report`);
      table.push(`| ingestReports in batches of ${size} (${cpuUs.toFixed(0)} µs CPU per report) | — | — |`);
      figures.push({
        name: `report-ingest-batch-${size}-cpu-us-per-report`,
        value: Math.round(cpuUs),
        unit: 'µs',
      });
    }
  }

  const events = await ctx.store.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  console.log(`events stored: ${events.n}; hub on core ${hubCore}, generators on core ${generatorCore}`);
  console.log(
    `\n${new Date().toISOString().slice(0, 10)} · ${machine()} · commit ${commit()} · ${n} sites, ${reports} reports per mode\n`,
  );
  console.log('| path | reports/s | target |\n|---|---|---|');
  for (const row of table) console.log(row);
  await appendResults(figures);
  await app.close();
  await fleet.close();
}

if (import.meta.main) {
  if (process.argv[2] === '--load') await loadGenerator();
  else if (process.argv[2] === '--relay') await relayLoadGenerator();
  else {
    pinSelf(hubCore);
    await main();
  }
}
