// Benchmark: a fleet behind regional relays (issue 16 part 4). One hub process; one `outpost relay` process
// per region (the benchmark fleet has 8), each serving that region's sites; one load generator process per
// relay (bench/protocol-load.ts, ≤ 20,000 sockets each, as this machine allows a process). Every site
// heartbeats every 30 s and long-polls its desired state through its relay. Measured: the sites' report
// and long-poll round trips through the relays, the hub's RSS and every process's CPU over the window, a
// new revision of the fleet-wide bundle until the last site has it, and the grouped fleet query at the hub
// while all of that runs. With --hub-down-seconds N the hub is then killed (SIGKILL) for N s while the
// sites go on through their relays, and started again on its data directory: measured are what the sites
// were served meanwhile, what the relays held, how long their outboxes took to drain, and whether the hub
// ended with every report a site had handed over. A tracked sample of sites (--tracked-per-relay, run by
// this process, not a generator) gives the per-site evidence: every poll answer during the outage and the
// last report its relay acknowledged, against the hub's stored seq after the drain.
// Before anything starts, the memory the run needs is estimated from the measured cost of each process
// per site (below) and the run refuses when it cannot fit the machine's available memory.
// Run: node bench/fleet-relays.ts [sites=100000] [windowSeconds=60] [--hub-down-seconds 0] [--tracked-per-relay 25]
//   [--ignore-memory-estimate]

import { mkdtemp, rm } from 'node:fs/promises';
import { freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import type { DesiredState, Report } from '../src/model/wire.ts';
import { HttpClient } from '../src/net/http-client.ts';
import { freePort, type RelayProcess, startRelayProcess } from '../test/support/relay-process.ts';
import { commit, machine, percentile, regions } from './fleet.ts';
import { type LoadResult, posBundle, prepareHub, startLoad } from './protocol-load.ts';
import { appendResults, thousands } from './results.ts';
import { cpuSeconds, rssMiB, startHubProcess } from './support.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'hub-down-seconds': { type: 'string', default: '0' },
    'tracked-per-relay': { type: 'string', default: '25' },
    'ignore-memory-estimate': { type: 'boolean', default: false },
  },
});
const sites = Number(positionals[0] ?? 100_000);
const windowSeconds = Number(positionals[1] ?? 60);
const hubDownSeconds = Number(values['hub-down-seconds']);
const trackedPerRelay = hubDownSeconds > 0 ? Number(values['tracked-per-relay']) : 0;
const heartbeatMs = 30_000;
/** the generators share one core: their handshakes together must not outrun the hub and relays */
const connectPerSecondInAll = 400;

/**
 * What each process of the run holds, MiB, from measurements on this machine (bench/RESULTS.md): a relay
 * before any site and per site it holds (relay-load, 2,000–5,000 sites: 150–160 MiB, 123–130 KiB), a
 * generator before any site (its plan, the certificates) and per simulated site (generator-load), the
 * hub behind relays (536 MiB at 20,000 sites; 930 MiB seen at the 100,000-site attempt, so its 1 GiB
 * target is budgeted), and this process, which holds every site's certificate for the tracked sample.
 */
const memoryPerProcess = {
  relayBaseMiB: 160,
  relayKiBPerSite: 130,
  generatorBaseMiB: 150,
  generatorKiBPerSite: 90,
  hubMiB: 1024,
  harnessMiB: 300,
};
/** what the run may take of the memory available when it starts: the rest is the page cache's and the OS's */
const usableShare = 0.9;

const estimate = (() => {
  const m = memoryPerProcess;
  const groups = regions.length;
  const relays = groups * m.relayBaseMiB + (sites * m.relayKiBPerSite) / 1024;
  const generators = groups * m.generatorBaseMiB + (sites * m.generatorKiBPerSite) / 1024;
  const total = relays + generators + m.hubMiB + m.harnessMiB;
  return { relays, generators, total, available: freemem() / 2 ** 20 };
})();
const gib = (mib: number) => `${(mib / 1024).toFixed(1)} GiB`;
const estimateLine = `${sites} sites need ≈ ${gib(estimate.total)} (relays ${gib(estimate.relays)}, generators ${gib(estimate.generators)}, hub ${gib(memoryPerProcess.hubMiB)}, this process ${gib(memoryPerProcess.harnessMiB)}); ${gib(estimate.available)} available`;
if (estimate.total > usableShare * estimate.available && !values['ignore-memory-estimate']) {
  console.error(
    `fleet-relays: refused: ${estimateLine}, of which the run may take ${usableShare * 100} %. Run fewer sites, free memory, or pass --ignore-memory-estimate to run anyway (the last attempt past its memory ramped to 7,300 sites and collapsed).`,
  );
  process.exit(2);
}
console.error(`memory estimate: ${estimateLine}`);

const t0 = performance.now();
const prepared = await prepareHub(sites, sites);
console.error(
  `prepared ${sites} sites with certificates in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
let hub = await startHubProcess([], { dataDir: prepared.dataDir });
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

// the benchmark fleet labels site i with regions[i % 8] (bench/fleet.ts); a group's last sites are tracked
const groups = relays.map((relay, r) => {
  const all = prepared.sites.filter((_, i) => i % regions.length === r);
  const tracked = Math.min(trackedPerRelay, Math.floor(all.length / 10));
  return { relay, sites: all.slice(0, all.length - tracked), tracked: all.slice(all.length - tracked) };
});
// A relay refuses a site until its change feed has listed it (at 100,000 sites the relays took 100 s to
// fetch every site's desired state): the sites start once each relay serves the last site of its group,
// so the ramp's errors are the ramp's, not the relays' start.
const relaysReadyMs = Math.max(120_000, sites * 6);
const relaysReadyBy = Date.now() + relaysReadyMs;
await Promise.all(
  groups.map(async (g) => {
    const last = g.tracked.at(-1) ?? g.sites.at(-1)!;
    const probe = new HttpClient(g.relay.process.url, {
      ca: prepared.ca,
      cert: last.cert,
      key: prepared.key,
    });
    while ((await probe.request('GET', `/agent/v1/sites/${last.id}/desired`)).status !== 200) {
      if (Date.now() > relaysReadyBy)
        throw new Error(`relay ${g.relay.region} did not serve its sites within ${relaysReadyMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    probe.close();
  }),
);
/** each relay's RSS before its sites connect: what it holds per site is measured over this */
const relayRssBase = await Promise.all(relays.map((r) => rssMiB(r.pid)));
console.error(
  `every relay serves its sites; relay RSS before them ${relayRssBase.map(Math.round).join('/')} MiB`,
);

/** where the run is: the tracked sites count what they are answered in each phase */
type Phase = 'before' | 'hub-down' | 'after';
let phase: Phase = 'before';
interface TrackedSite {
  id: string;
  relay: number;
  poll: HttpClient;
  report: HttpClient;
  etag?: string;
  desired?: DesiredState;
  seq: number;
  /** the last seq its relay answered 200 for */
  acked: number;
  /** wall-clock times its desired state changed (for the fan-out) */
  changes: number[];
  hubDown: { served: number; failed: number; reportsTaken: number; reportsFailed: number };
}
let trackedStopping = false;
/**
 * A tracked site: an agent's two connections (the long-poll, and reports every heartbeat) to its relay.
 * Each report says something new (its seq in the message), so no relay may keep one back as unchanged:
 * every acknowledged report must reach the hub.
 */
async function runTracked(t: TrackedSite): Promise<void> {
  const polling = (async () => {
    while (!trackedStopping) {
      try {
        const res = await t.poll.request('GET', `/agent/v1/sites/${t.id}/desired`, {
          query: { wait: t.etag ? 25 : undefined },
          headers: t.etag ? { 'if-none-match': t.etag } : {},
          timeoutMs: 60_000,
        });
        if (res.status === 200 || res.status === 304) {
          if (phase === 'hub-down') t.hubDown.served++;
          if (res.status === 200) {
            if (t.etag !== undefined) t.changes.push(Date.now());
            t.etag = String(res.headers.etag);
            t.desired = res.body as DesiredState;
          }
          continue;
        }
      } catch {
        if (trackedStopping) return;
      }
      if (phase === 'hub-down') t.hubDown.failed++;
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 1000));
    }
  })();
  await new Promise((r) => setTimeout(r, Math.random() * heartbeatMs));
  while (!trackedStopping) {
    const seq = ++t.seq;
    const body: Report = {
      seq,
      deployments: (t.desired?.deployments ?? []).map((d) => ({
        bundle: d.bundle,
        digest: d.digest,
        state: 'Ready',
        message: `report ${seq}`,
        counts: { total: 1, applied: 1, ready: 1 },
      })),
    };
    const ok = await t.report
      .request('POST', `/agent/v1/sites/${t.id}/report`, { body })
      .then((res) => res.status === 200)
      .catch(() => false);
    if (ok) t.acked = seq;
    if (phase === 'hub-down') t.hubDown[ok ? 'reportsTaken' : 'reportsFailed']++;
    await new Promise((r) => setTimeout(r, heartbeatMs));
  }
  await polling;
}
const tracked: TrackedSite[] = groups.flatMap((g, r) =>
  g.tracked.map((site) => {
    const tls = { ca: prepared.ca, cert: site.cert, key: prepared.key };
    return {
      id: site.id,
      relay: r,
      poll: new HttpClient(g.relay.process.url, tls, () => ({}), 1),
      report: new HttpClient(g.relay.process.url, tls, () => ({}), 1),
      seq: 0,
      acked: 0,
      changes: [],
      hubDown: { served: 0, failed: 0, reportsTaken: 0, reportsFailed: 0 },
    };
  }),
);
const trackedRuns = tracked.map((t) => runTracked(t));

/** a line on stderr every 15 s: a 100,000-site run takes long, and a stuck one should be seen */
const relayStatuses = () => Promise.all(relays.map((r) => r.process.status().catch(() => undefined)));
/** the generators' pids, once they run: each one's RSS is in the progress line */
const generatorPids: number[] = [];
/** RSS in MiB, 0 for a process that is gone (the hub while it is down) */
const rssOf = (pids: readonly number[]) =>
  Promise.all(pids.map((pid) => rssMiB(pid).then(Math.round, () => 0)));
const progress = setInterval(() => {
  void relayStatuses().then(async (all) => {
    const connected = all.reduce((n, s) => n + (s?.connectedSites ?? 0), 0);
    const pending = all.reduce((n, s) => n + (s?.outbox.pending ?? 0), 0);
    const [hubRssNow] = await rssOf([hub.pid]);
    const relaysNow = await rssOf(relays.map((r) => r.pid));
    const generatorsNow = await rssOf(generatorPids);
    const used = (1 - freemem() / totalmem()) * 100;
    console.error(
      `[${new Date().toISOString().slice(11, 19)}] ${phase}: ${connected}/${sites} sites at their relays, ${pending} items in relay outboxes; RSS MiB: hub ${hubRssNow}, relays ${relaysNow.join('/')}, generators ${generatorsNow.join('/') || '-'}, this process ${Math.round(process.memoryUsage.rss() / 2 ** 20)}; machine ${used.toFixed(0)} % used, load ${loadavg()[0]!.toFixed(1)}`,
    );
  });
}, 15_000);

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
generatorPids.push(...loads.map((l) => l.pid));

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
    // a query the hub does not answer in time is a failed query, not the end of the run
    const status = await operator
      .request('POST', '/api/v1/query', { body: groupedQuery })
      .then((res) => res.status)
      .catch(() => 0);
    if (status === 200) queryMs.push(performance.now() - t);
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
// placing a revision on every site of a loaded hub outlasts the client's default 30 s (it ended a
// 10,000-site run at load 22)
const applied = await operator.request('POST', '/api/v1/bundles/apply', {
  body: posBundle('2'),
  timeoutMs: 600_000,
});
const applyMs = Date.now() - applyAt;
if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body)}`);
// a loaded machine takes long to reach 100,000 sites: the run waits 3 ms a site (5 min at 100,000)
await Promise.race([allChanged, new Promise((r) => setTimeout(r, Math.max(120_000, sites * 3)))]);
const fanoutCpu = (await cpuOfAll()).map((c, i) => c - fanoutCpu0[i]!);

/** each site's last stored report seq, read from the hub's SQLite file (the hub may be down) */
function storedSeqs(): Map<string, number> {
  const db = new DatabaseSync(join(prepared.dataDir, 'hub.db'), { readOnly: true });
  try {
    const rows = db.prepare('select id, last_report_seq as seq from sites').all() as Array<{
      id: string;
      seq: number;
    }>;
    return new Map(rows.map((r) => [r.id, r.seq]));
  } finally {
    db.close();
  }
}
/**
 * Seconds until the hub holds, for every tracked site, at least the seq its relay last acknowledged to it
 * (`want`): what the relays took meanwhile has reached the hub (NaN if not within `timeoutMs`). A relay's
 * outbox is no measure here, as the fleet's heartbeats keep filling it.
 */
async function trackedAtHub(want: ReadonlyMap<string, number>, timeoutMs: number): Promise<number> {
  const from = performance.now();
  while (performance.now() - from < timeoutMs) {
    const stored = storedSeqs();
    if ([...want].every(([id, seq]) => (stored.get(id) ?? 0) >= seq)) {
      return (performance.now() - from) / 1000;
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
  return Number.NaN;
}
const ackedSeqs = () => new Map(tracked.map((t) => [t.id, t.acked]));
let hubDown:
  | {
      seconds: number;
      relaysAtEnd: Array<Awaited<ReturnType<RelayProcess['status']>> | undefined>;
      relaysAfterDrain: Array<Awaited<ReturnType<RelayProcess['status']>> | undefined>;
      relayCpuSeconds: number[];
      restartSeconds: number;
      drainSeconds: number;
      trackedSites: number;
      trackedPollsServed: number;
      trackedPollsFailed: number;
      trackedReportsTaken: number;
      trackedReportsFailed: number;
      sitesLostDesired: number;
      reportsLost: number;
      relayDrops: number;
      sitesWithNewReportsAtHub: number;
    }
  | undefined;
const fanoutEndsAt = Date.now();
if (hubDownSeconds > 0) {
  const dropsBefore = (await relayStatuses()).map((st) => st?.outbox.dropped ?? 0);
  const relayCpu0 = await Promise.all(relays.map((r) => cpuSeconds(r.pid)));
  const hubUrl = new URL(hub.url);
  await hub.kill();
  phase = 'hub-down';
  const seqAtKill = storedSeqs();
  console.error(`hub killed; the sites go on through their relays for ${hubDownSeconds} s`);
  await new Promise((r) => setTimeout(r, hubDownSeconds * 1000));
  const relaysAtEnd = await relayStatuses();
  const ackedAtEnd = ackedSeqs();
  const relayCpuSeconds = (await Promise.all(relays.map((r) => cpuSeconds(r.pid)))).map(
    (c, i) => c - relayCpu0[i]!,
  );
  // a site is served by its relay from its cache: one with a failed poll meanwhile, or not answered at the
  // end, lost its state (an outage shorter than a long-poll's hold may see no poll answered at all)
  const finalAnswers = await Promise.all(
    tracked.map((t) =>
      t.report
        .request('GET', `/agent/v1/sites/${t.id}/desired`, { headers: { 'if-none-match': t.etag ?? '' } })
        .then((res) => res.status)
        .catch(() => 0),
    ),
  );
  phase = 'after';
  const restartAt = performance.now();
  hub = await startHubProcess(['--listen', hubUrl.host], {
    dataDir: prepared.dataDir,
    adminToken: hub.adminToken,
  });
  const restartSeconds = (performance.now() - restartAt) / 1000;
  console.error(
    `hub up again in ${restartSeconds.toFixed(1)} s; waiting for the tracked sites' reports at the hub`,
  );
  const drainSeconds =
    restartSeconds + (await trackedAtHub(ackedAtEnd, Math.max(300_000, 2 * hubDownSeconds * 1000)));
  const relaysAfterDrain = await relayStatuses();
  // the tracked sites stop, so what each was last acknowledged is final; then their relays send it up
  trackedStopping = true;
  for (const t of tracked) {
    t.poll.close();
    t.report.close();
  }
  await Promise.all(trackedRuns);
  await trackedAtHub(ackedSeqs(), 60_000);
  const seqAfter = storedSeqs();
  const relayDrops = (await relayStatuses()).reduce(
    (n, st, r) => n + (st?.outbox.dropped ?? 0) - dropsBefore[r]!,
    0,
  );
  hubDown = {
    seconds: hubDownSeconds,
    relaysAtEnd,
    relaysAfterDrain,
    relayCpuSeconds: relayCpuSeconds.map((c) => Math.round(c * 10) / 10),
    restartSeconds: Math.round(restartSeconds * 10) / 10,
    drainSeconds: Math.round(drainSeconds * 10) / 10,
    trackedSites: tracked.length,
    trackedPollsServed: tracked.reduce((n, t) => n + t.hubDown.served, 0),
    trackedPollsFailed: tracked.reduce((n, t) => n + t.hubDown.failed, 0),
    trackedReportsTaken: tracked.reduce((n, t) => n + t.hubDown.reportsTaken, 0),
    trackedReportsFailed: tracked.reduce((n, t) => n + t.hubDown.reportsFailed, 0),
    sitesLostDesired: tracked.filter(
      (t, i) => t.hubDown.failed > 0 || (finalAnswers[i] !== 200 && finalAnswers[i] !== 304),
    ).length,
    // a tracked site's every report says something new: the hub must hold the last one acknowledged
    reportsLost: tracked.filter((t) => (seqAfter.get(t.id) ?? 0) < t.acked).length + relayDrops,
    relayDrops,
    sitesWithNewReportsAtHub: [...seqAfter].filter(([id, seq]) => seq > (seqAtKill.get(id) ?? 0)).length,
  };
}
clearInterval(progress);
trackedStopping = true;
for (const t of tracked) {
  t.poll.close();
  t.report.close();
}
for (const l of loads) l.stop();
const results: LoadResult[] = await Promise.all(loads.map((l) => l.result));
operator.close();
for (const r of relays) await r.process.stop();
await hub.stop();
await Promise.all(relayDirs.map((d) => rm(d, { recursive: true, force: true })));
await rm(prepared.dataDir, { recursive: true, force: true });

const merged = (pick: (r: LoadResult) => number) => results.map(pick);
const delays = [...results.flatMap((r) => r.changes), ...tracked.flatMap((t) => t.changes)]
  .filter((t) => t <= fanoutEndsAt)
  .map((t) => t - applyAt)
  .sort((a, b) => a - b);
queryMs.sort((a, b) => a - b);
const round = (n: number) => Math.round(n * 10) / 10;
const out = {
  benchmark: 'fleet-relays',
  sites,
  relays: relays.length,
  connectedSites: merged((r) => r.connected).reduce((a, b) => a + b, tracked.length),
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
  generatorCpuUsPerSiteSecond: merged((r) => r.generatorCpuUsPerSiteSecond),
  hubRssMiBMax: Math.round(Math.max(0, ...hubRss)),
  relayRssMiBBase: relayRssBase.map(Math.round),
  relayRssMiBMax: relayRss.map((r) => Math.round(Math.max(0, ...r))),
  // a relay's growth over its RSS before its sites, per site it held (its sites, tracked ones included)
  relayRssKiBPerSite: relayRss.map((r, i) =>
    Math.round(
      ((Math.max(0, ...r) - relayRssBase[i]!) * 1024) / (groups[i]!.sites.length + groups[i]!.tracked.length),
    ),
  ),
  generatorRssMiB: results.map((r) => ({
    base: r.generatorMemoryMiB.rssBase,
    peak: r.generatorMemoryMiB.rssPeak,
  })),
  generatorRssKiBPerSite: results.map((r) =>
    Math.round(
      ((r.generatorMemoryMiB.rssPeak - r.generatorMemoryMiB.rssBase) * 1024) / Math.max(1, r.connected),
    ),
  ),
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
  // the generators count errors over the whole run, the hub's outage included
  hubDown,
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
  // every relay's own CPU and memory, not only their sum: at 100,000 one relay is 12,500 sites
  ...out.relayCpuCores.map((cores, i) => ({
    name: `steady-${fleetName}-relay-${relays[i]!.region}-cpu-cores`,
    value: cores,
    unit: 'cores',
  })),
  {
    name: `steady-${fleetName}-relay-rss-kib-per-site-max`,
    value: Math.max(...out.relayRssKiBPerSite),
    unit: 'KiB',
  },
  {
    name: `steady-${fleetName}-generator-rss-mib-max`,
    value: Math.max(...out.generatorRssMiB.map((g) => g.peak)),
    unit: 'MiB',
  },
  {
    name: `steady-${fleetName}-generator-rss-kib-per-site-max`,
    value: Math.max(...out.generatorRssKiBPerSite),
    unit: 'KiB',
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
  ...(hubDown
    ? [
        {
          name: `hub-down-${fleetName}-sites-lost-desired`,
          value: hubDown.sitesLostDesired,
          unit: 'sites',
          target: 0,
          op: '<=' as const,
        },
        {
          name: `hub-down-${fleetName}-reports-lost`,
          value: hubDown.reportsLost,
          unit: 'reports',
          target: 0,
          op: '<=' as const,
        },
        { name: `hub-down-${fleetName}-drain-s`, value: hubDown.drainSeconds, unit: 's' },
        {
          name: `hub-down-${fleetName}-agent-errors`,
          value: out.errors + out.non2xx,
          unit: 'requests',
          target: 0,
          op: '<=' as const,
        },
      ]
    : []),
]);
