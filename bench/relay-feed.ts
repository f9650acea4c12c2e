// Benchmark: the hub's side of the relays at fleet scale (issue 16 §2/§4). One hub process with N sites,
// 8 `outpost relay` processes (one region each, no site connected): the hub CPU and wall time of a change
// feed answer per relay (the whole list, and a delta since a cursor), a fleet-wide revision until every
// relay's cache holds every site's new signed desired state (`relay-fanout-100k-s`, the hub→relay half
// of fanout-100k), and the hub's RSS.
// Run: node bench/relay-feed.ts [sites=100000]

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../src/net/http-client.ts';
import type { RelayIdentity } from '../src/relay/relay-identity.ts';
import { freePort, type RelayProcess, startRelayProcess } from '../test/support/relay-process.ts';
import { commit, machine, regions } from './fleet.ts';
import { posBundle, prepareHub } from './protocol-load.ts';
import { appendResults, type BenchFigure, thousands } from './results.ts';
import { cpuSeconds, rssMiB, startHubProcess } from './support.ts';

const sites = Number(process.argv[2] ?? 100_000);
const label = thousands(sites);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

const t0 = performance.now();
const prepared = await prepareHub(sites, sites);
console.error(`prepared ${sites} sites with certificates in ${round((performance.now() - t0) / 1000, 0)} s`);
const hub = await startHubProcess([], { dataDir: prepared.dataDir });
const hubRss: number[] = [];
const sampler = setInterval(() => {
  void rssMiB(hub.pid).then((r) => hubRss.push(r));
}, 500);
const operator = new HttpClient(hub.url, { ca: hub.caPem }, () => ({
  authorization: `Bearer ${hub.adminToken}`,
}));

/** sites the relay wrote new desired states for, by its log lines after `from` characters */
function changedSince(relay: RelayProcess, from: number): number {
  let n = 0;
  for (const m of relay
    .log()
    .slice(from)
    .matchAll(/desired states changed sites=(\d+)/g))
    n += Number(m[1]);
  return n;
}

/**
 * Resolves with the seconds until every relay has written `want[r]` new desired states since `marks`, or
 * NaN after `timeoutMs` (saying how many each holds).
 */
async function untilRelaysHold(
  relays: readonly RelayProcess[],
  marks: readonly number[],
  want: readonly number[],
  timeoutMs: number,
): Promise<number> {
  const from = performance.now();
  while (!relays.every((r, i) => changedSince(r, marks[i]!) >= want[i]!)) {
    if (performance.now() - from > timeoutMs) {
      const got = relays.map((r, i) => changedSince(r, marks[i]!));
      console.error(`after ${timeoutMs / 1000} s the relays hold ${got.join(', ')} of ${want.join(', ')}`);
      return Number.NaN;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return (performance.now() - from) / 1000;
}

const stateDirs: string[] = [];
const joinTokens: string[] = [];
for (const region of regions) {
  const created = await operator.request('POST', '/api/v1/relays', {
    body: { name: `relay-${region}`, selector: { matchLabels: { region } } },
    // a hub just started on 100,000 sites may still be busy with its first sweeps on a loaded machine
    timeoutMs: 120_000,
  });
  if (created.status !== 201) throw new Error(`relay ${region}: ${created.status}`);
  joinTokens.push((created.body as { joinToken: string }).joinToken);
  stateDirs.push(await mkdtemp(join(tmpdir(), `outpost-bench-relay-${region}-`)));
}
// started one after another, each given 180 s to listen: eight node processes starting at once on a
// shared 2-core machine (load 12 and more) took longer than the 30 s a relay process is given by default.
// The first sync therefore counts the relays' start-up too.
const syncFrom = performance.now();
const relays: RelayProcess[] = [];
for (const [r, stateDir] of stateDirs.entries()) {
  relays.push(
    await startRelayProcess({
      stateDir,
      port: await freePort(),
      joinToken: joinTokens[r]!,
      caPem: hub.caPem,
      extraArgs: ['--tls-name', '127.0.0.1'],
      startTimeoutMs: 180_000,
    }),
  );
}
// the benchmark fleet labels site i with regions[i % 8] (bench/fleet.ts)
const share = regions.map(
  (_, r) => Math.floor(sites / regions.length) + (r < sites % regions.length ? 1 : 0),
);
const syncSeconds = await untilRelaysHold(
  relays,
  relays.map(() => 0),
  share,
  Math.max(300_000, sites * 6),
);
const initialSyncSeconds = (performance.now() - syncFrom) / 1000;
console.error(
  `8 relays hold their sites' desired states, ${round(initialSyncSeconds)} s after they were started`,
);

// (a) one feed answer per relay, asked with each relay's own client certificate, unheld and in full
const feedClients = await Promise.all(
  stateDirs.map(async (dir) => {
    const id = JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8')) as RelayIdentity;
    return new HttpClient(hub.url, { ca: id.caPem, cert: id.clientCertPem, key: id.keyPem });
  }),
);
const feedMs: number[] = [];
let feedBytes = 0;
const feedCpu0 = await cpuSeconds(hub.pid);
const rounds = 3;
for (let k = 0; k < rounds; k++) {
  for (const client of feedClients) {
    const at = performance.now();
    const res = await client.request('GET', '/relay/v1/changes', { raw: true, timeoutMs: 120_000 });
    if (res.status !== 200) throw new Error(`change feed: HTTP ${res.status}`);
    feedMs.push(performance.now() - at);
    feedBytes = Math.max(feedBytes, (res.body as string).length);
  }
}
const feedCpuMs = (((await cpuSeconds(hub.pid)) - feedCpu0) * 1000) / (rounds * feedClients.length);
for (const c of feedClients) c.close();
console.error(
  `feed answers: ${JSON.stringify({ ms: feedMs.map((m) => Math.round(m)), hubCpuMs: feedCpuMs })}`,
);

// (b) a fleet-wide revision: from the operator's request until every relay wrote every site's new state
const marks = relays.map((r) => r.log().length);
const fanoutCpu0 = await cpuSeconds(hub.pid);
const profileFrom = hub.uptime();
const applyAt = performance.now();
const applied = await operator.request('POST', '/api/v1/bundles/apply', {
  body: posBundle('2'),
  timeoutMs: 600_000,
});
const applySeconds = (performance.now() - applyAt) / 1000;
if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body)}`);
const held = await untilRelaysHold(relays, marks, share, Math.max(300_000, sites * 6));
const fanoutSeconds = Number.isNaN(held) ? Number.NaN : (performance.now() - applyAt) / 1000;
const fanoutCpu = (await cpuSeconds(hub.pid)) - fanoutCpu0;
console.error(
  `fan-out window in the hub's profile: --from ${profileFrom.toFixed(1)} --to ${hub.uptime().toFixed(1)}`,
);

// (c) after the fan-out (it perturbs the relays' own cursors): a delta answer per relay with nothing
// changed, asked with the cursor of a whole list just given, unheld, 3 rounds × 8
const deltaClients = await Promise.all(
  stateDirs.map(async (dir) => {
    const id = JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8')) as RelayIdentity;
    return new HttpClient(hub.url, { ca: id.caPem, cert: id.clientCertPem, key: id.keyPem });
  }),
);
const cursors: (string | undefined)[] = await Promise.all(
  deltaClients.map(async (client) => {
    const res = await client.request('GET', '/relay/v1/changes', {
      query: { since: '' },
      timeoutMs: 120_000,
    });
    return (res.body as { cursor?: string }).cursor;
  }),
);
const deltaMs: number[] = [];
let deltaBytes = 0;
const deltaCpu0 = await cpuSeconds(hub.pid);
for (let k = 0; k < rounds && !cursors.includes(undefined); k++) {
  for (const [i, client] of deltaClients.entries()) {
    const at = performance.now();
    const res = await client.request('GET', '/relay/v1/changes', {
      query: { since: cursors[i] },
      raw: true,
      timeoutMs: 120_000,
    });
    if (res.status !== 200) throw new Error(`change feed delta: HTTP ${res.status}`);
    deltaMs.push(performance.now() - at);
    deltaBytes = Math.max(deltaBytes, (res.body as string).length);
    cursors[i] = (JSON.parse(res.body as string) as { cursor?: string }).cursor;
  }
}
const deltaCpuMs =
  deltaMs.length === 0 ? Number.NaN : (((await cpuSeconds(hub.pid)) - deltaCpu0) * 1000) / deltaMs.length;
for (const c of deltaClients) c.close();
clearInterval(sampler);

operator.close();
for (const r of relays) await r.stop();
await hub.stop();
for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });

const sortedFeed = [...feedMs].sort((a, b) => a - b);
const out = {
  benchmark: 'relay-feed',
  sites,
  relays: relays.length,
  initialSyncSeconds: round(initialSyncSeconds),
  initialSyncAfterRelaysListenSeconds: round(syncSeconds),
  feedAnswerMs: {
    p50: round(sortedFeed[Math.floor(sortedFeed.length / 2)]!),
    max: round(sortedFeed.at(-1)!),
  },
  feedAnswerHubCpuMs: round(feedCpuMs),
  feedAnswerKiB: Math.round(feedBytes / 1024),
  deltaAnswerMs:
    deltaMs.length === 0 ? null : round([...deltaMs].sort((a, b) => a - b)[Math.floor(deltaMs.length / 2)]!),
  deltaAnswerHubCpuMs: round(deltaCpuMs),
  deltaAnswerBytes: deltaBytes,
  applySeconds: round(applySeconds),
  fanoutSeconds: round(fanoutSeconds),
  fanoutHubCpuSeconds: round(fanoutCpu),
  hubRssMiBMax: Math.round(Math.max(0, ...hubRss)),
  loadAverage: loadavg().map((l) => round(l)),
  machine: machine(),
  commit: commit(),
  date: new Date().toISOString(),
};
console.log(JSON.stringify(out, null, 2));
await appendResults(
  (
    [
      { name: `relay-feed-answer-hub-cpu-ms-${label}`, value: out.feedAnswerHubCpuMs, unit: 'ms' },
      { name: `relay-feed-answer-ms-${label}`, value: out.feedAnswerMs.p50, unit: 'ms' },
      { name: `relay-feed-delta-hub-cpu-ms-${label}`, value: out.deltaAnswerHubCpuMs, unit: 'ms' },
      { name: `relay-fanout-${label}-s`, value: out.fanoutSeconds, unit: 's', target: 5, op: '<' },
      { name: `relay-fanout-${label}-hub-cpu-s`, value: out.fanoutHubCpuSeconds, unit: 's' },
      {
        name: `relay-feed-hub-rss-mib-${label}`,
        value: out.hubRssMiBMax,
        unit: 'MiB',
        target: 1024,
        op: '<',
      },
    ] as BenchFigure[]
  ).filter((f) => !Number.isNaN(f.value)),
);
