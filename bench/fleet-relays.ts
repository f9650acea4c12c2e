// Benchmark: a fleet behind regional relays (issue 16 part 4). One hub process; one `outpost relay` process
// per region (the benchmark fleet has 8), each serving that region's sites; one load generator process per
// relay (bench/protocol-load.ts, ≤ 20,000 sockets each, as this machine allows a process). Every site
// heartbeats every 30 s and long-polls its desired state through its relay. Measured: the sites' report
// and long-poll round trips through the relays, the hub's RSS and every process's CPU over the window, a
// new revision of the fleet-wide bundle until the last site has it, and the grouped fleet query at the hub
// while all of that runs. Run: node bench/fleet-relays.ts [sites=100000] [windowSeconds=60]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../src/net/http-client.ts';
import { freePort, type RelayProcess, startRelayProcess } from '../test/support/relay-process.ts';
import { commit, machine, percentile, regions } from './fleet.ts';
import { type LoadResult, posBundle, prepareHub, startLoad } from './protocol-load.ts';
import { appendResults, thousands } from './results.ts';
import { cpuSeconds, rssMiB, startHubProcess } from './support.ts';

const sites = Number(process.argv[2] ?? 100_000);
const windowSeconds = Number(process.argv[3] ?? 60);
const heartbeatMs = 30_000;
/** the generators share one core: their handshakes together must not outrun the hub and relays */
const connectPerSecondInAll = 400;

const t0 = performance.now();
const prepared = await prepareHub(sites, sites);
console.error(
  `prepared ${sites} sites with certificates in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
const hub = await startHubProcess([], { dataDir: prepared.dataDir });
const operator = new HttpClient(hub.url, { ca: hub.caPem }, () => ({
  authorization: `Bearer ${hub.adminToken}`,
}));
const relayDirs: string[] = [];
const relays: Array<{ region: string; process: RelayProcess; pid: number }> = [];
for (const region of regions) {
  const created = await operator.request('POST', '/api/v1/relays', {
    body: { name: `relay-${region}`, selector: { matchLabels: { region } } },
  });
  if (created.status !== 201)
    throw new Error(`relay ${region}: ${created.status} ${JSON.stringify(created.body)}`);
  const stateDir = await mkdtemp(join(tmpdir(), `outpost-bench-relay-${region}-`));
  relayDirs.push(stateDir);
  const process_ = await startRelayProcess({
    stateDir,
    port: await freePort(),
    joinToken: (created.body as { joinToken: string }).joinToken,
    caPem: hub.caPem,
    extraArgs: ['--tls-name', '127.0.0.1'],
  });
  relays.push({ region, process: process_, pid: process_.pid });
}
console.error(`${relays.length} relays enrolled`);

// the benchmark fleet labels site i with regions[i % 8] (bench/fleet.ts)
const groups = relays.map((relay, r) => ({
  relay,
  sites: prepared.sites.filter((_, i) => i % regions.length === r),
}));
let windowsOpen = 0;
let windowsClosed = 0;
let changedGroups = 0;
let resolveWindow: () => void = () => {};
const allWindowsOpen = new Promise<void>((r) => {
  resolveWindow = r;
});
let resolveWindowEnd: () => void = () => {};
const allWindowsClosed = new Promise<void>((r) => {
  resolveWindowEnd = r;
});
let resolveChanged: () => void = () => {};
const allChanged = new Promise<void>((r) => {
  resolveChanged = r;
});
const loads = await Promise.all(
  groups.map((g) =>
    startLoad(
      {
        url: g.relay.process.url,
        ca: prepared.ca,
        key: prepared.key,
        sites: g.sites,
        reportEveryMs: heartbeatMs,
        maxWaitSeconds: 55,
        connectPerSecond: Math.max(1, Math.floor(connectPerSecondInAll / groups.length)),
        warmupSeconds: 15,
        windowSeconds,
        reportReadyOnChange: false,
        holdAfterWindow: true,
      },
      {
        ramped: () => console.error(`relay ${g.relay.region}: all ${g.sites.length} sites connected`),
        windowStart: () => {
          if (++windowsOpen === groups.length) resolveWindow();
        },
        windowEnd: () => {
          if (++windowsClosed === groups.length) resolveWindowEnd();
        },
        allChanged: () => {
          if (++changedGroups === groups.length) resolveChanged();
        },
      },
    ),
  ),
);

/** CPU seconds of the hub and of every relay, for the cores each used between two readings */
const cpuOfAll = () => Promise.all([cpuSeconds(hub.pid), ...relays.map((r) => cpuSeconds(r.pid))]);
await allWindowsOpen;
console.error('every generator is measuring');
const steadyFrom = { at: performance.now(), cpu: await cpuOfAll() };
const hubRss: number[] = [];
const relayRss = relays.map(() => [] as number[]);
const sampler = setInterval(() => {
  void rssMiB(hub.pid).then((r) => hubRss.push(r));
  relays.forEach((relay, i) => {
    void rssMiB(relay.pid).then((r) => relayRss[i]!.push(r));
  });
}, 2000);
// the fleet query an operator runs at a glance, against the hub while the fleet heartbeats
const queryMs: number[] = [];
const groupedQuery = {
  selector: { matchExpressions: [{ key: 'format', operator: 'In', values: ['mini', 'max'] }] },
  groupBy: ['label:region', 'connectivity'],
  aggregates: ['count', 'avg(property:lanes)'],
};
let queryErrors = 0;
const querying = (async () => {
  while (windowsClosed < groups.length) {
    const t = performance.now();
    const res = await operator.request('POST', '/api/v1/query', { body: groupedQuery });
    if (res.status === 200) queryMs.push(performance.now() - t);
    else queryErrors++;
    await new Promise((r) => setTimeout(r, 500));
  }
})();
await allWindowsClosed;
await querying;
clearInterval(sampler);
const steadySeconds = (performance.now() - steadyFrom.at) / 1000;
const steadyTo = await cpuOfAll();
const coresOf = (i: number) => (steadyTo[i]! - steadyFrom.cpu[i]!) / steadySeconds;

// a new revision: from the operator's request until the last site behind every relay has it
const fanoutCpu0 = await cpuOfAll();
const applyAt = Date.now();
const applied = await operator.request('POST', '/api/v1/bundles/apply', { body: posBundle('2') });
const applyMs = Date.now() - applyAt;
if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body)}`);
await Promise.race([allChanged, new Promise((r) => setTimeout(r, 120_000))]);
const fanoutCpu = (await cpuOfAll()).map((c, i) => c - fanoutCpu0[i]!);
for (const l of loads) l.stop();
const results: LoadResult[] = await Promise.all(loads.map((l) => l.result));
operator.close();
for (const r of relays) await r.process.stop();
await hub.stop();
await Promise.all(relayDirs.map((d) => rm(d, { recursive: true, force: true })));
await rm(prepared.dataDir, { recursive: true, force: true });

const merged = (pick: (r: LoadResult) => number) => results.map(pick);
const delays = results
  .flatMap((r) => r.changes)
  .map((t) => t - applyAt)
  .sort((a, b) => a - b);
queryMs.sort((a, b) => a - b);
const round = (n: number) => Math.round(n * 10) / 10;
const out = {
  benchmark: 'fleet-relays',
  sites,
  relays: relays.length,
  connectedSites: merged((r) => r.connected).reduce((a, b) => a + b, 0),
  heartbeatSeconds: heartbeatMs / 1000,
  steadyWindowSeconds: round(steadySeconds),
  // each generator measured its own sites; the fleet's p99 is bounded by the worst group's
  reportP99MsPerRelay: merged((r) => r.reportMs.p99),
  reportP50MsPerRelay: merged((r) => r.reportMs.p50),
  longPollOverheadP99MsPerRelay: merged((r) => r.pollOverheadMs.p99),
  requestsPerSecond: merged((r) => r.ratePerSecond).reduce((a, b) => a + b, 0),
  hubCpuCores: Math.round(coresOf(0) * 100) / 100,
  relayCpuCores: relays.map((_, i) => Math.round(coresOf(i + 1) * 100) / 100),
  generatorCpuCores: merged((r) => r.generatorCpuCores),
  hubRssMiBMax: Math.round(Math.max(0, ...hubRss)),
  relayRssMiBMax: relayRss.map((r) => Math.round(Math.max(0, ...r))),
  groupedQueryMs: {
    runs: queryMs.length,
    p50: round(percentile(queryMs, 50)),
    p99: round(percentile(queryMs, 99)),
  },
  queryErrors,
  fanout: {
    applyRequestMs: applyMs,
    reached: delays.length,
    p50Ms: percentile(delays, 50),
    p99Ms: percentile(delays, 99),
    lastMs: delays.at(-1),
    hubCpuSeconds: round(fanoutCpu[0]!),
    relayCpuSeconds: fanoutCpu.slice(1).map(round),
  },
  errors: merged((r) => r.requests.errors).reduce((a, b) => a + b, 0),
  non2xx: merged((r) => r.requests.non2xx).reduce((a, b) => a + b, 0),
  firstErrors: results.flatMap((r) => r.firstErrors).slice(0, 5),
  machine: machine(),
  commit: commit(),
  date: new Date().toISOString().slice(0, 10),
};
console.log(JSON.stringify(out, null, 2));
const fleetName = thousands(sites);
const everySiteReached = delays.length === sites;
await appendResults([
  {
    name: `steady-${fleetName}-report-p99-ms`,
    value: Math.max(...out.reportP99MsPerRelay),
    unit: 'ms',
    target: 100,
    op: '<',
  },
  { name: `steady-${fleetName}-hub-rss-mib`, value: out.hubRssMiBMax, unit: 'MiB', target: 1024, op: '<' },
  { name: `steady-${fleetName}-hub-cpu-cores`, value: out.hubCpuCores, unit: 'cores' },
  {
    name: `steady-${fleetName}-relays-cpu-cores`,
    value: round(out.relayCpuCores.reduce((a, b) => a + b, 0)),
    unit: 'cores',
  },
  {
    name: `fanout-${fleetName}-last-site-s`,
    // a run in which some site never got the revision has no last site
    value: everySiteReached ? (delays.at(-1) ?? Number.NaN) / 1000 : Number.NaN,
    unit: 's',
    target: 5,
    op: '<',
  },
  {
    name: `query-${fleetName}-grouped-p99-ms`,
    value: out.groupedQueryMs.p99,
    unit: 'ms',
    target: 200,
    op: '<',
  },
]);
