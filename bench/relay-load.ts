// Benchmark: what one relay costs per site it holds, and what the hub behind it pays, with the relay
// forwarding only changed reports and, for comparison, every report (issue 16). One hub process, ONE
// `outpost relay` serving every site, one load generator (bench/protocol-load.ts) whose sites heartbeat
// every 30 s with an unchanged report and long-poll through the relay. Measured over the window: relay CPU
// per site per second, relay RSS per held site over its RSS before any site connected, hub CPU per site
// per second, reports forwarded and kept back (the relay's own counts).
// Run: node bench/relay-load.ts [sites=5000] [windowSeconds=60] [--every-report]
// (OUTPOST_BENCH_RELAY_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" profiles the relay; the window is
// printed in seconds since the relay started, for bench/cpu-profile.ts --from/--to)

import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../src/net/http-client.ts';
import { freePort, startRelayProcess } from '../test/support/relay-process.ts';
import { commit, machine } from './fleet.ts';
import { prepareHub, startLoad } from './protocol-load.ts';
import { appendResults } from './results.ts';
import { cpuSeconds, rssMiB, startHubProcess } from './support.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const sites = Number(args[0] ?? 5000);
const windowSeconds = Number(args[1] ?? 60);
/** today's behaviour before issue 16's lever: the refresh interval at 0 sends every report up */
const everyReport = process.argv.includes('--every-report');
const heartbeatMs = 30_000;

const prepared = await prepareHub(sites, sites);
const hub = await startHubProcess([], { dataDir: prepared.dataDir });
const operator = new HttpClient(hub.url, { ca: hub.caPem }, () => ({
  authorization: `Bearer ${hub.adminToken}`,
}));
const created = await operator.request('POST', '/api/v1/relays', {
  body: { name: 'relay-all', selector: { matchLabels: {} } },
});
if (created.status !== 201) throw new Error(`relay: ${created.status} ${JSON.stringify(created.body)}`);
const stateDir = await mkdtemp(join(tmpdir(), 'outpost-bench-relay-'));
const relay = await startRelayProcess({
  stateDir,
  port: await freePort(),
  joinToken: (created.body as { joinToken: string }).joinToken,
  caPem: hub.caPem,
  extraArgs: ['--tls-name', '127.0.0.1', ...(everyReport ? ['--report-refresh-seconds', '0'] : [])],
  nodeFlags: process.env.OUTPOST_BENCH_RELAY_NODE_FLAGS?.split(' ').filter(Boolean),
});
const relayStartedAt = performance.now();
// the relay refuses a site until its change feed has listed it: wait until the first site is served
const probeSite = prepared.sites[0]!;
const probe = new HttpClient(relay.url, { ca: prepared.ca, cert: probeSite.cert, key: prepared.key });
const servedBy = Date.now() + 120_000;
while ((await probe.request('GET', `/agent/v1/sites/${probeSite.id}/desired`)).status !== 200) {
  if (Date.now() > servedBy) throw new Error('the relay did not get the sites from its change feed');
  await new Promise((r) => setTimeout(r, 500));
}
probe.close();
const relayBaseMiB = await rssMiB(relay.pid);

let resolveWindow: () => void = () => {};
const windowOpen = new Promise<void>((r) => {
  resolveWindow = r;
});
let resolveWindowEnd: () => void = () => {};
const windowClosed = new Promise<void>((r) => {
  resolveWindowEnd = r;
});
const load = await startLoad(
  {
    url: relay.url,
    ca: prepared.ca,
    key: prepared.key,
    sites: prepared.sites,
    reportEveryMs: heartbeatMs,
    maxWaitSeconds: 55,
    connectPerSecond: 250,
    // longer than a heartbeat: every site's first report (always forwarded) lies before the window
    warmupSeconds: 35,
    windowSeconds,
    reportReadyOnChange: false,
    holdAfterWindow: false,
  },
  {
    ramped: () => console.error(`all ${sites} sites connected to the relay`),
    windowStart: resolveWindow,
    windowEnd: resolveWindowEnd,
  },
);

await windowOpen;
const from = {
  at: performance.now(),
  hub: await cpuSeconds(hub.pid),
  relay: await cpuSeconds(relay.pid),
  reports: (await relay.status()).reports,
};
const relayRss: number[] = [];
const sampler = setInterval(() => {
  void rssMiB(relay.pid).then((r) => relayRss.push(r));
}, 2000);
await windowClosed;
clearInterval(sampler);
const seconds = (performance.now() - from.at) / 1000;
const to = {
  hub: await cpuSeconds(hub.pid),
  relay: await cpuSeconds(relay.pid),
  status: await relay.status(),
};
const result = await load.result;
operator.close();
await relay.stop();
await hub.stop();
await rm(stateDir, { recursive: true, force: true });

const connected = result.connected;
const perSiteSecond = (cpu: number) => Math.round((cpu / seconds / connected) * 1e6 * 10) / 10;
const relayRssMax = Math.max(0, ...relayRss);
const out = {
  benchmark: 'relay-load',
  mode: everyReport ? 'every report forwarded (refresh 0)' : 'forward on change (refresh 300 s)',
  sites,
  connectedSites: connected,
  heartbeatSeconds: heartbeatMs / 1000,
  windowSeconds: Math.round(seconds * 10) / 10,
  /** the window in seconds since the relay process started: a relay profile's --from/--to */
  windowInRelayProcessSeconds: [from.at, from.at + seconds * 1000].map(
    (t) => Math.round((t - relayStartedAt) / 100) / 10,
  ),
  relayCpuUsPerSiteSecond: perSiteSecond(to.relay - from.relay),
  relayCpuCores: Math.round(((to.relay - from.relay) / seconds) * 100) / 100,
  relayRssBaseMiB: Math.round(relayBaseMiB),
  relayRssMiBMax: Math.round(relayRssMax),
  relayRssKiBPerSite: Math.round(((relayRssMax - relayBaseMiB) * 1024) / connected),
  hubCpuUsPerSiteSecond: perSiteSecond(to.hub - from.hub),
  hubCpuCores: Math.round(((to.hub - from.hub) / seconds) * 100) / 100,
  reportsInWindow: result.requests.reports,
  forwardedInWindow: to.status.reports.forwarded - from.reports.forwarded,
  keptBackInWindow: to.status.reports.keptBack - from.reports.keptBack,
  reportP99Ms: result.reportMs.p99,
  errors: result.requests.errors,
  non2xx: result.requests.non2xx,
  firstErrors: result.firstErrors,
  loadAverage: loadavg().map((l) => Math.round(l * 10) / 10),
  machine: machine(),
  commit: commit(),
  date: new Date().toISOString(),
};
console.log(JSON.stringify(out, null, 2));
if (connected < sites) throw new Error(`only ${connected} of ${sites} sites connected: nothing recorded`);
const suffix = everyReport ? '-every-report' : '';
await appendResults([
  { name: `relay-cpu-us-per-site-s${suffix}`, value: out.relayCpuUsPerSiteSecond, unit: 'µs' },
  { name: `relay-rss-kib-per-site${suffix}`, value: out.relayRssKiBPerSite, unit: 'KiB' },
  { name: `hub-cpu-us-per-site-s-behind-relay${suffix}`, value: out.hubCpuUsPerSiteSecond, unit: 'µs' },
  {
    name: `relay-reports-forwarded-share${suffix}`,
    value:
      Math.round((out.forwardedInWindow / Math.max(1, out.forwardedInWindow + out.keptBackInWindow)) * 1000) /
      10,
    unit: '%',
  },
]);
