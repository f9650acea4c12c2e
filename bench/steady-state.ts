// Benchmark: a hub in steady state under N sites that heartbeat every 30 s and long-poll their desired
// state (targets at 100,000 sites: p99 < 100 ms, hub RSS < 1 GiB). The hub (`outpost hub`, its own
// process) runs on core 0, the protocol-level load generator (bench/protocol-load.ts) on core 1.
//
// This machine allows a process 20,000 open files (a hard limit the container does not let root raise),
// so not every one of 50,000 or 100,000 sites can hold a connection to one hub. By default 10,000 sites
// connect, and beyond that they carry the request rate of the whole fleet: each reports every
// 30 s × 10,000 / N, so the hub serves the heartbeats of N sites against a store of N sites, while it
// holds the sockets of 10,000 (RESULTS.md adds the measured memory per held connection up to N).
// Run: node bench/steady-state.ts [sites=10000] [windowSeconds=60] [connected=min(sites, 10000)]
// (OUTPOST_BENCH_LATE_POLLS=FILE writes the late polls' sites and times there, to line up with the hub's
// request log: OUTPOST_BENCH_HUB_LOG=1 OUTPOST_BENCH_HUB_LOG_LEVEL=info)

import { rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { commit, machine } from './fleet.ts';
import { prepareHub, startLoad } from './protocol-load.ts';
import { appendResults, thousands } from './results.ts';
import { cpuSeconds, generatorCore, hubCore, rssMiB, startHubProcess } from './support.ts';

const sites = Number(process.argv[2] ?? 10_000);
const windowSeconds = Number(process.argv[3] ?? 60);
const connected = Number(process.argv[4] ?? Math.min(sites, 10_000));
const heartbeatMs = 30_000;

const t0 = performance.now();
const prepared = await prepareHub(sites, connected);
console.error(
  `prepared ${sites} sites (${connected} with certificates) in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
const hub = await startHubProcess([], { dataDir: prepared.dataDir });

/** The hub's /metrics as `name{labels}` → value (what the window's stall hunt reads). */
function scrapeHub(): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const req = get(
      `${hub.url}/metrics`,
      { ca: hub.caPem, headers: { authorization: `Bearer ${hub.adminToken}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          const values = new Map<string, number>();
          for (const line of text.split('\n')) {
            const m = /^(\S+)\s+(\S+)$/.exec(line);
            if (m && !line.startsWith('#')) values.set(m[1]!, Number(m[2]));
          }
          resolve(values);
        });
      },
    );
    req.on('error', reject);
  });
}
// The hub's first /metrics is cold (0.86 s at 10,000 sites, then 20–50 ms): taken at the window's start it
// held up every request arriving meanwhile, and those long-polls started their waits late, so they were
// counted as long-poll overhead. A first scrape now, before any site connects, leaves the window a warm one.
await scrapeHub();
let metricsAtStart: Promise<Map<string, number>> | undefined;
let metricsAtEnd: Promise<Map<string, number>> | undefined;
const idleRss = await rssMiB(hub.pid);
let window: { cpu0: number; at: number; rss: number[] } | undefined;
let sampler: NodeJS.Timeout | undefined;
let summary: { hubCores: number; seconds: number } | undefined;
const profileWindow = { from: 0, to: 0 };
let windowStartedAt = 0;
const load = await startLoad(
  {
    url: hub.url,
    ca: prepared.ca,
    key: prepared.key,
    sites: prepared.sites,
    reportEveryMs: Math.round((heartbeatMs * connected) / sites),
    maxWaitSeconds: 55,
    connectPerSecond: 300,
    warmupSeconds: 15,
    windowSeconds,
    reportReadyOnChange: false,
    holdAfterWindow: false,
  },
  {
    ramped: () => console.error(`all ${connected} sites connected`),
    windowStart: () => {
      windowStartedAt = Date.now();
      profileWindow.from = hub.uptime();
      // also resets the hub's event-loop delay histogram (prom-client does at every scrape)
      metricsAtStart = scrapeHub();
      void cpuSeconds(hub.pid).then((cpu0) => {
        window = { cpu0, at: performance.now(), rss: [] };
        sampler = setInterval(() => {
          void rssMiB(hub.pid).then((r) => window?.rss.push(r));
        }, 1000);
      });
    },
    windowEnd: () => {
      profileWindow.to = hub.uptime();
      metricsAtEnd = scrapeHub();
      clearInterval(sampler);
      const w = window!;
      void cpuSeconds(hub.pid).then((cpu) => {
        const seconds = (performance.now() - w.at) / 1000;
        summary = { hubCores: (cpu - w.cpu0) / seconds, seconds };
      });
    },
  },
);
const result = await load.result;
await new Promise((r) => setTimeout(r, 200));
// Where a late long-poll answer comes from: the hub's timers and writes (answer delay), its event loop
// as a whole (delay, GC pauses), or neither (then the network or the generator).
const [m0, m1] = await Promise.all([metricsAtStart!, metricsAtEnd!]);
const grew = (name: string) => (m1.get(name) ?? 0) - (m0.get(name) ?? 0);
const answerDelay = Object.fromEntries(
  ['timeout', 'change'].map((end) => {
    const series = (suffix: string, le = '') =>
      `outpost_long_poll_answer_delay_seconds_${suffix}{${le}end="${end}"}`;
    const count = grew(series('count'));
    return [
      end,
      {
        answered: count,
        meanMs: Math.round((grew(series('sum')) * 1000) / (count || 1)),
        over100ms: count - grew(series('bucket', 'le="0.1",')),
        over1s: count - grew(series('bucket', 'le="1",')),
      },
    ];
  }),
);
const waitStartCount = grew('outpost_long_poll_wait_start_seconds_count');
const waitStart = {
  polls: waitStartCount,
  meanMs: Math.round((grew('outpost_long_poll_wait_start_seconds_sum') * 1000) / (waitStartCount || 1)),
  over100ms: waitStartCount - grew('outpost_long_poll_wait_start_seconds_bucket{le="0.1"}'),
  over1s: waitStartCount - grew('outpost_long_poll_wait_start_seconds_bucket{le="1"}'),
};
const gcKinds = ['minor', 'major', 'incremental', 'weakcb'];
const gcPauses = Object.fromEntries(
  gcKinds.map((kind) => {
    const series = (suffix: string, le = '') => `nodejs_gc_duration_seconds_${suffix}{${le}kind="${kind}"}`;
    const count = grew(series('count'));
    return [
      kind,
      {
        count,
        totalMs: Math.round(grew(series('sum')) * 1000),
        over100ms: count - grew(series('bucket', 'le="0.1",')),
      },
    ];
  }),
);
const eventLoopDelayMs = {
  p50: Math.round((m1.get('nodejs_eventloop_lag_p50_seconds') ?? 0) * 1000),
  p99: Math.round((m1.get('nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000),
  max: Math.round((m1.get('nodejs_eventloop_lag_max_seconds') ?? 0) * 1000),
};
// Late polls sent in the same few moments and late by the same amount were held up on their way in (a
// stall of the hub or the generator when they were sent); spread out, on each poll's own path. Times are
// seconds from the window's start (a poll answered in the window may have been sent before it).
const lateBySecondSent = new Map<number, number>();
for (const p of result.latePolls) {
  const second = Math.floor((p.sentAt - windowStartedAt) / 1000);
  lateBySecondSent.set(second, (lateBySecondSent.get(second) ?? 0) + 1);
}
const latePolls = {
  count: result.latePolls.length,
  secondsWithLatePollsSent: lateBySecondSent.size,
  busiestSecondsSent: [...lateBySecondSent]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([second, late]) => ({ second, late })),
};
if (process.env.OUTPOST_BENCH_LATE_POLLS)
  await writeFile(process.env.OUTPOST_BENCH_LATE_POLLS, JSON.stringify(result.latePolls));
const rss = window!.rss.sort((a, b) => a - b);
const hubRss = rss.at(-1) ?? 0;
await hub.stop();
await rm(prepared.dataDir, { recursive: true, force: true });

const out = {
  benchmark: 'steady-state',
  sites,
  connectedSites: result.connected,
  heartbeatSeconds: 30,
  reportEverySecondsPerConnectedSite: (heartbeatMs * connected) / sites / 1000,
  requestsPerSecond: result.ratePerSecond,
  reportLatencyMs: result.reportMs,
  longPollOverheadMs: result.pollOverheadMs,
  latePolls,
  generatorEventLoopDelayMs: result.generatorEventLoopDelayMs,
  hubLongPollWaitStart: waitStart,
  hubLongPollAnswerDelay: answerDelay,
  hubEventLoopDelayMs: eventLoopDelayMs,
  hubGcPauses: gcPauses,
  hubCpuCores: Number(summary?.hubCores.toFixed(2)),
  hubProfileWindowSeconds: {
    from: Number(profileWindow.from.toFixed(1)),
    to: Number(profileWindow.to.toFixed(1)),
  },
  hubRssMiB: { idle: Math.round(idleRss), max: Math.round(hubRss) },
  generatorCpuCores: result.generatorCpuCores,
  cpuSplit: `hub on core ${hubCore}, generator on core ${generatorCore} (taskset)`,
  requests: result.requests,
  firstErrors: result.firstErrors,
  targets: 'p99 < 100 ms, hub RSS < 1 GiB (at 100,000 sites)',
  machine: machine(),
  commit: commit(),
  date: new Date().toISOString().slice(0, 10),
};
console.log(JSON.stringify(out, null, 2));
// a run whose connected sites carry a larger fleet's rate is named for both
const fleetName =
  connected === sites ? thousands(sites) : `${thousands(sites)}-rate-on-${thousands(connected)}`;
await appendResults([
  { name: `steady-${fleetName}-report-p99-ms`, value: result.reportMs.p99, unit: 'ms', target: 100, op: '<' },
  {
    name: `steady-${fleetName}-longpoll-overhead-p99-ms`,
    value: result.pollOverheadMs.p99,
    unit: 'ms',
    target: 100,
    op: '<',
  },
  { name: `steady-${fleetName}-hub-rss-mib`, value: Math.round(hubRss), unit: 'MiB' },
  { name: `steady-${fleetName}-hub-cpu-cores`, value: out.hubCpuCores, unit: 'cores' },
]);
