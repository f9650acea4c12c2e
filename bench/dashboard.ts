// Benchmark: what the web dashboard asks of the hub and of the browser at 100,000 sites. The map's
// whole-fleet read (GET /api/v1/site-locations: time and size), paging the sites table by keyset
// cursor, and the map's own work per pan or zoom (projecting and grid-clustering every site), which runs
// in the browser but is plain code, timed here in Node. No DESIGN.md target covers the dashboard; the
// figures are set against a frame (16 ms) for clustering and a second for the map's data.
// Run: node bench/dashboard.ts [sites] [runs]

import { sql } from 'kysely';
import { createApiToken } from '../src/hub/identity/api-tokens.ts';
import { buildServer } from '../src/hub/server.ts';
import { clusterGrid } from '../src/web/cluster.ts';
import { project, worldView } from '../src/web/projection.ts';
import { benchFleet, commit, machine, percentile } from './fleet.ts';
import { appendResults, thousands } from './results.ts';

const sites = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 20);

const fleet = await benchFleet(sites);
// scatter the stores over the inhabited latitudes, as agents report them at registration
await sql`update sites set facts = json_object('lat', (abs(random()) % 12000) / 100.0 - 50, 'lon', (abs(random()) % 36000) / 100.0 - 180)`.execute(
  fleet.ctx.store.db,
);
const app = await buildServer(fleet.ctx);
const { token } = await createApiToken(
  fleet.ctx,
  { name: 'bench', source: 'bench' },
  'bench-viewer',
  'viewer',
);
const auth = { authorization: `Bearer ${token}` };

const p99 = (times: number[]) =>
  percentile(
    [...times].sort((a, b) => a - b),
    99,
  );

function timed(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`;
}

const rows: string[] = [];

// the map's data
const locTimes: number[] = [];
let bytes = 0;
let loc: { lat: number[]; lon: number[]; state: number[] } | undefined;
for (let i = 0; i < runs + 2; i++) {
  const t = performance.now();
  const r = await app.inject({ method: 'GET', url: '/api/v1/site-locations', headers: auth });
  const ms = performance.now() - t;
  if (r.statusCode !== 200) throw new Error(`site-locations: HTTP ${r.statusCode} ${r.body}`);
  if (i >= 2) locTimes.push(ms);
  bytes = r.rawPayload.length;
  loc = r.json();
}
if (loc?.lat.length !== sites) throw new Error(`expected ${sites} located sites, got ${loc?.lat.length}`);
rows.push(
  `| GET /api/v1/site-locations (${sites} sites, ${(bytes / 1e6).toFixed(1)} MB JSON) | ${timed(locTimes)} | < 1 s |`,
);

// paging the sites table: the first page, then 20 pages on by cursor
const pageTimes: number[] = [];
let cursor: string | null = null;
for (let i = 0; i < runs; i++) {
  const payload: object = {
    selector: { matchLabels: { region: 'west' } },
    limit: 50,
    ...(cursor ? { cursor } : {}),
  };
  const t = performance.now();
  const r = await app.inject({ method: 'POST', url: '/api/v1/query', headers: auth, payload });
  pageTimes.push(performance.now() - t);
  if (r.statusCode !== 200) throw new Error(`query: HTTP ${r.statusCode} ${r.body}`);
  cursor = (r.json() as { nextCursor: string | null }).nextCursor;
}
rows.push(
  `| POST /api/v1/query, a 50-site page filtered by label, paged on by cursor | ${timed(pageTimes)} | < 100 ms |`,
);

// the browser's work per view change
const clusterTimes: number[] = [];
let clusters = 0;
const n = loc.lat.length;
for (let i = 0; i < runs + 2; i++) {
  const t = performance.now();
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const [x, y] = project(loc.lon[k]!, loc.lat[k]!, worldView, 1240, 620);
    xs[k] = x;
    ys[k] = y;
  }
  clusters = clusterGrid(xs, ys, loc.state, 8, 36).length;
  if (i >= 2) clusterTimes.push(performance.now() - t);
}
rows.push(
  `| project + grid-cluster ${sites} sites for one view (${clusters} clusters at world zoom) | ${timed(clusterTimes)} | < 16 ms (one frame) |`,
);

console.log(
  `\n${new Date().toISOString().slice(0, 10)} · ${machine()} · commit ${commit()} · ${runs} runs each\n`,
);
console.log('| what | time | aim |\n|---|---|---|');
for (const r of rows) console.log(r);
await appendResults([
  {
    name: `dashboard-${thousands(sites)}-locations-p99-ms`,
    value: Number(p99(locTimes).toFixed(1)),
    unit: 'ms',
    target: 1000,
    op: '<',
  },
  {
    name: `dashboard-${thousands(sites)}-page-p99-ms`,
    value: Number(p99(pageTimes).toFixed(1)),
    unit: 'ms',
    target: 100,
    op: '<',
  },
  {
    name: `dashboard-${thousands(sites)}-cluster-p99-ms`,
    value: Number(p99(clusterTimes).toFixed(1)),
    unit: 'ms',
    target: 16,
    op: '<',
  },
]);
await app.close();
await fleet.close();
