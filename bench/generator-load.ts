// Benchmark: what one simulated site costs the load generator (bench/protocol-load.ts) itself, the figure
// that decides how many sites a machine can simulate (issue 16 §4: 100,000 over several processes). One hub
// process (core 0) and one generator (core 1) whose sites connect straight to the hub, heartbeat every 30 s
// and long-poll. Measured: the generator's RSS per held site over its RSS before any, and its CPU per site
// per second over the window (after a warm-up longer than a heartbeat, so no handshake lies in it).
// Run: node bench/generator-load.ts [sites=4000] [windowSeconds=60]

import { loadavg } from 'node:os';
import { commit, machine } from './fleet.ts';
import { prepareHub, startLoad } from './protocol-load.ts';
import { appendResults } from './results.ts';
import { startHubProcess } from './support.ts';

const sites = Number(process.argv[2] ?? 4000);
const windowSeconds = Number(process.argv[3] ?? 60);
const loadAtStart = loadavg().map((l) => Math.round(l * 10) / 10);

const prepared = await prepareHub(sites, sites);
const hub = await startHubProcess([], { dataDir: prepared.dataDir });
const load = await startLoad(
  {
    url: hub.url,
    ca: prepared.ca,
    key: prepared.key,
    sites: prepared.sites,
    reportEveryMs: 30_000,
    maxWaitSeconds: 55,
    // gentle enough for a hub on a shared machine: a ramp that fails measures the hub, not the generator
    connectPerSecond: 100,
    warmupSeconds: 35,
    windowSeconds,
    reportReadyOnChange: false,
    holdAfterWindow: false,
  },
  { ramped: () => console.error(`all ${sites} sites connected`) },
);
const result = await load.result;
await hub.stop();

const memory = result.generatorMemoryMiB;
const out = {
  benchmark: 'generator-load',
  sites,
  connectedSites: result.connected,
  windowSeconds,
  generatorRssKiBPerSite: Math.round(((memory.rssPeak - memory.rssBase) * 1024) / result.connected),
  generatorCpuUsPerSiteSecond: result.generatorCpuUsPerSiteSecond,
  generatorMemoryMiB: memory,
  generatorEventLoopDelayMs: result.generatorEventLoopDelayMs,
  requestsPerSecond: result.ratePerSecond,
  reportMs: result.reportMs,
  errors: result.requests.errors,
  non2xx: result.requests.non2xx,
  firstErrors: result.firstErrors,
  loadAverage: { start: loadAtStart, end: loadavg().map((l) => Math.round(l * 10) / 10) },
  machine: machine(),
  commit: commit(),
  date: new Date().toISOString(),
};
console.log(JSON.stringify(out, null, 2));
if (result.connected < sites)
  throw new Error(`only ${result.connected} of ${sites} connected: nothing recorded`);
await appendResults([
  { name: 'generator-rss-kib-per-site', value: out.generatorRssKiBPerSite, unit: 'KiB' },
  { name: 'generator-cpu-us-per-site-s', value: out.generatorCpuUsPerSiteSecond, unit: 'µs' },
]);
