// Benchmark: report ingestion on one hub process (file-backed SQLite, 10,000 sites, two bundles).
// Each report runs the whole status path: sequence check, deployment rows, aggregate deltas, site
// attention and events in one transaction. Measured twice: calling ingestReport directly (the store
// path alone) and over loopback HTTP with autocannon in a separate process (auth, validation, JSON).
// Target: >= 5,000 reports/s. Run: node bench/report-ingest.ts [sites] [reports]

import { spawn } from 'node:child_process';
import { buildServer } from '../src/hub/server.ts';
import { siteByCredential } from '../src/hub/sites/sites.ts';
import { ingestReport } from '../src/hub/status/reports.ts';
import type { Report } from '../src/model/wire.ts';
import { benchFleet, commit, formats, machine } from './fleet.ts';

const target = 5000;

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

async function loadGenerator(): Promise<void> {
  const [url, n, amount, pos, cameras, seqBase] = process.argv.slice(3);
  const { default: autocannon } = await import('autocannon');
  let k = 0;
  const sites = Number(n);
  const result = await autocannon({
    url: `${url}/agent/v1/report`,
    connections: 32,
    amount: Number(amount),
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const i = k % sites;
          const body = reportFor(k++, sites, { pos: pos!, cameras: cameras! }, Number(seqBase));
          return {
            ...req,
            headers: { 'content-type': 'application/json', authorization: `Bearer site_bench_${i}` },
            body: JSON.stringify(body),
          };
        },
      },
    ],
  });
  process.stdout.write(
    JSON.stringify({
      rps: result.requests.average,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors,
      duration: result.duration,
      total: result.requests.total,
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
  const sites = [];
  for (let i = 0; i < n; i++) sites.push((await siteByCredential(ctx, fleet.credentialOf(i)))!);

  // 1. the store path alone
  let start = performance.now();
  let accepted = 0;
  for (let k = 0; k < reports; k++) {
    const r = await ingestReport(ctx, sites[k % n]!, reportFor(k, n, digests, 0));
    if (r.accepted) accepted++;
  }
  const direct = reports / ((performance.now() - start) / 1000);
  console.log(
    `direct ingestReport: ${reports} reports (${accepted} accepted) at ${direct.toFixed(0)} reports/s`,
  );

  // 2. over HTTP, load from another process
  const app = await buildServer(ctx);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const seqBase = Math.ceil(reports / n) + 1;
  start = performance.now();
  const child = spawn(
    process.execPath,
    [
      import.meta.filename,
      '--load',
      `http://127.0.0.1:${port}`,
      String(n),
      String(reports),
      digests.pos,
      digests.cameras,
      String(seqBase),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  await new Promise((done) => child.on('exit', done));
  const http = JSON.parse(out) as { rps: number; p99: number; non2xx: number; errors: number; total: number };
  const events = await ctx.store.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  console.log(
    `HTTP (autocannon, 32 connections): ${http.total} reports at ${http.rps.toFixed(0)} reports/s, p99 ${http.p99} ms, non-2xx ${http.non2xx}, errors ${http.errors}`,
  );
  console.log(`events stored: ${events.n}`);

  const verdict = (v: number) => `${v >= target ? 'met' : 'MISSED'} (target ≥ ${target}/s)`;
  console.log(
    `\n${new Date().toISOString().slice(0, 10)} · ${machine()} · commit ${commit()} · ${n} sites, ${reports} reports per mode\n`,
  );
  console.log('| path | reports/s | target |\n|---|---|---|');
  console.log(`| ingestReport (store, aggregates, events) | ${direct.toFixed(0)} | ${verdict(direct)} |`);
  console.log(
    `| HTTP POST /agent/v1/report, loopback, 32 connections (p99 ${http.p99} ms) | ${http.rps.toFixed(0)} | ${verdict(http.rps)} |`,
  );
  await app.close();
  await fleet.close();
}

if (import.meta.main) {
  if (process.argv[2] === '--load') await loadGenerator();
  else await main();
}
