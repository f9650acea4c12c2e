// Benchmark: how long a new revision takes to reach every connected site (target: 10,000 sites in < 2 s).
// 10,000 sites hold long-polls on their desired state (bench/protocol-load.ts, own process on core 1);
// the hub (`outpost hub`, core 0) gets a new revision of the fleet-wide bundle through the operator API,
// and the clock runs from that request until the last site has the new desired state in hand: placement,
// rendering, the transaction, waking 10,000 long-polls and answering each over mTLS.
// Run: node bench/revision-fanout.ts [sites=10000]

import { rm } from 'node:fs/promises';
import { HttpClient } from '../src/net/http-client.ts';
import { commit, machine, percentile } from './fleet.ts';
import { posBundle, prepareHub, startLoad } from './protocol-load.ts';
import { appendResults, thousands } from './results.ts';
import { cpuSeconds, generatorCore, hubCore, rssMiB, startHubProcess } from './support.ts';

const sites = Number(process.argv[2] ?? 10_000);

const prepared = await prepareHub(sites, sites);
const hub = await startHubProcess([], { dataDir: prepared.dataDir });
const operator = new HttpClient(hub.url, { ca: hub.caPem }, () => ({
  authorization: `Bearer ${hub.adminToken}`,
}));
let resolveWindow: () => void = () => {};
const windowOpen = new Promise<void>((r) => {
  resolveWindow = r;
});
let resolveAll: () => void = () => {};
const allChanged = new Promise<void>((r) => {
  resolveAll = r;
});
const load = await startLoad(
  {
    url: hub.url,
    ca: prepared.ca,
    key: prepared.key,
    sites: prepared.sites,
    reportEveryMs: 0,
    maxWaitSeconds: 55,
    connectPerSecond: 300,
    warmupSeconds: 5,
    windowSeconds: 1,
    reportReadyOnChange: false,
    holdAfterWindow: true,
  },
  { windowStart: resolveWindow, allChanged: resolveAll },
);
await windowOpen;
const rssBefore = await rssMiB(hub.pid);
const cpu0 = await cpuSeconds(hub.pid);
const t0 = Date.now();
const profileFrom = hub.uptime();
const applied = await operator.request('POST', '/api/v1/bundles/apply', { body: posBundle('2') });
const applyMs = Date.now() - t0;
if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body)}`);
await Promise.race([allChanged, new Promise((r) => setTimeout(r, 60_000))]);
const hubCpu = (await cpuSeconds(hub.pid)) - cpu0;
const profileTo = hub.uptime();
const rssAfter = await rssMiB(hub.pid);
load.stop();
const result = await load.result;
operator.close();
await hub.stop();
await rm(prepared.dataDir, { recursive: true, force: true });

const delays = result.changes.map((t) => t - t0).sort((a, b) => a - b);
console.log(
  JSON.stringify(
    {
      benchmark: 'revision-fanout',
      sites,
      connected: result.connected,
      reached: delays.length,
      applyRequestMs: applyMs,
      reachMs: {
        p50: percentile(delays, 50),
        p99: percentile(delays, 99),
        all: delays.at(-1),
      },
      target: `every one of ${sites} sites in < 2000 ms`,
      hubCpuSecondsDuringFanout: Number(hubCpu.toFixed(2)),
      hubCpuMsPerSite: Number(((hubCpu * 1000) / sites).toFixed(3)),
      hubProfileWindowSeconds: { from: Number(profileFrom.toFixed(1)), to: Number(profileTo.toFixed(1)) },
      hubRssMiB: { before: Math.round(rssBefore), after: Math.round(rssAfter) },
      generatorCpuCoresWhileHolding: result.generatorCpuCores,
      cpuSplit: `hub on core ${hubCore}, generator on core ${generatorCore} (taskset)`,
      errors: result.requests.errors,
      firstErrors: result.firstErrors,
      machine: machine(),
      commit: commit(),
      date: new Date().toISOString().slice(0, 10),
    },
    null,
    2,
  ),
);
await appendResults([
  {
    name: `fanout-${thousands(sites)}-last-site-s`,
    value: (delays.at(-1) ?? Number.NaN) / 1000,
    unit: 's',
    ...(sites === 10_000 ? { target: 2, op: '<' as const } : {}),
  },
  {
    name: `fanout-${thousands(sites)}-hub-cpu-ms-per-site`,
    value: (hubCpu * 1000) / sites,
    unit: 'ms',
    target: 0.1,
    op: '<=',
  },
]);
