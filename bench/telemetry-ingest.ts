// Benchmark: telemetry ingest through the store path (ingestTelemetry: batch-id check, 5-minute SLI
// buckets, SLO totals, drop counts, events, one transaction per batch) on a file-backed SQLite hub with
// `sites` Active sites, two bundles and two SLOs (one fleet-wide, one scoped by a selector). Each batch
// is one site's minute: every SLI of each of its bundles at 10 s resolution, and an event every 50th.
// Target (derived from DESIGN.md's 100,000 sites): every site sending one batch a minute is
// 1,667 batches/s on one hub process. Run: node bench/telemetry-ingest.ts [sites] [batches]

import { statSync } from 'node:fs';
import { siteFromRow } from '../src/hub/sites/sites.ts';
import { listSlos, sloDetail } from '../src/hub/slo/slos.ts';
import { ingestTelemetry } from '../src/hub/telemetry/ingest.ts';
import type { TelemetryBatch, TelemetrySample } from '../src/model/telemetry.ts';
import { benchFleet, commit, formats, machine } from './fleet.ts';
import { appendResults } from './results.ts';

const target = 100_000 / 60;
const n = Number(process.argv[2] ?? 10_000);
const batches = Number(process.argv[3] ?? 20_000);

const fleet = await benchFleet(n);
const { ctx } = fleet;
const actor = { name: 'bench', source: 'bench' };
const { applySlo } = await import('../src/hub/slo/slos.ts');
await applySlo(ctx, actor, {
  name: 'pos-errors',
  bundle: 'pos',
  objective: 0.999,
  window: '28d',
  sli: { kind: 'errors' },
});
await applySlo(ctx, actor, {
  name: 'pos-west-latency',
  bundle: 'pos',
  selector: { matchLabels: { region: 'west' } },
  objective: 0.99,
  window: '7d',
  sli: { kind: 'latency' },
});
const rows = await ctx.store.db.selectFrom('sites').selectAll().orderBy('id').execute();
const sites = rows.map(siteFromRow);

function batchFor(k: number, t0: number): { site: number; batch: TelemetryBatch } {
  const i = k % n;
  const minute = Math.floor(k / n);
  const end = t0 + minute * 60_000;
  const bundles = formats[i % formats.length] === 'max' ? ['pos', 'cameras'] : ['pos'];
  const samples: TelemetrySample[] = [];
  for (const bundle of bundles) {
    for (let s = 1; s <= 6; s++) {
      const t = end - 60_000 + s * 10_000;
      samples.push(
        { class: 'sli', name: 'requests_total', bundle, t, d: 10_000, v: 100 + (k % 7) },
        { class: 'sli', name: 'errors_total', bundle, t, d: 10_000, v: k % 3 },
        { class: 'sli', name: 'slow_requests_total', bundle, t, d: 10_000, v: k % 5 },
        { class: 'sli', name: 'latency_p99_seconds', bundle, t, v: 0.1 + (k % 10) / 100 },
        { class: 'sli', name: 'saturation', bundle, t, v: 0.5 },
      );
    }
  }
  const events =
    k % 50 === 0
      ? [
          {
            t: end,
            bundle: 'pos',
            type: 'Warning' as const,
            object: 'Pod pos/pos-0',
            reason: 'BackOff',
            message: 'restarting',
          },
        ]
      : [];
  return {
    site: i,
    batch: { batchId: `b-${k}`, samples, events, dropped: { sli: 0, event: 0, metric: 0, debug: 0 } },
  };
}

const t0 = Date.now() - 3_600_000;
let samples = 0;
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (let k = 0; k < batches; k++) {
  const { site, batch } = batchFor(k, t0);
  samples += batch.samples.length;
  await ingestTelemetry(ctx, sites[site]!, batch);
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const perSecond = batches / seconds;

// resends are answered from the batch-id table alone
const resendStart = performance.now();
const resends = Math.min(batches, 5000);
for (let k = 0; k < resends; k++) {
  const { site, batch } = batchFor(k, t0);
  await ingestTelemetry(ctx, sites[site]!, batch);
}
const resendPerSecond = resends / ((performance.now() - resendStart) / 1000);

let t = performance.now();
await listSlos(ctx);
const listMs = performance.now() - t;
t = performance.now();
await sloDetail(ctx, 'pos-errors');
const detailMs = performance.now() - t;
const buckets = await ctx.store.db
  .selectFrom('sli_site_buckets')
  .select((eb) => eb.fn.countAll<number>().as('n'))
  .executeTakeFirstOrThrow();
const dbFile = ctx.config.database;
const bytes = statSync(dbFile).size + (statSync(`${dbFile}-wal`, { throwIfNoEntry: false })?.size ?? 0);

console.log(
  `\n${new Date().toISOString().slice(0, 10)} · ${machine()} · commit ${commit()} · ${n} sites, ${batches} batches (${samples} samples)\n`,
);
console.log('| measure | value | target |\n|---|---|---|');
console.log(
  `| batches/s (ingestTelemetry) | ${perSecond.toFixed(0)} | ≥ ${target.toFixed(0)} ${perSecond >= target ? '✓' : '✗'} |`,
);
console.log(`| samples/s | ${(samples / seconds).toFixed(0)} | — |`);
// on a shared machine the wall-clock rate follows the load; per CPU-second it does not
console.log(`| batches per CPU-second | ${(batches / cpuSeconds).toFixed(0)} | — |`);
console.log(`| duplicate batches/s (resends) | ${resendPerSecond.toFixed(0)} | — |`);
console.log(`| GET /slos work (2 SLOs) | ${listMs.toFixed(0)} ms | — |`);
console.log(`| GET /slos/pos-errors work (series, worst sites) | ${detailMs.toFixed(0)} ms | — |`);
console.log(`| site buckets stored | ${Number(buckets.n)} | — |`);
console.log(
  `| database size | ${(bytes / 1024 / 1024).toFixed(1)} MiB (${(bytes / Number(buckets.n)).toFixed(0)} B per site bucket, all tables) | — |`,
);
await appendResults([
  {
    name: 'telemetry-ingest-batches-per-s',
    value: Math.round(perSecond),
    unit: '1/s',
    target: Math.round(target),
    op: '>=',
  },
  { name: 'telemetry-ingest-batches-per-cpu-s', value: Math.round(batches / cpuSeconds), unit: '1/s' },
]);
await fleet.close();
