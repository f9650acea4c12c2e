// Benchmark: a 3-wave rollout over 10,000 protocol-level sites with no bake time. Sites (bench/protocol-
// load.ts, core 1) long-poll, heartbeat every 30 s and report a new revision Ready as soon as they get
// it; the hub (`outpost hub`, core 0, default settings: the rollout controller steps every 5 s) runs the
// rollout the bundle's strategy asks for. Measured: apply → each wave done → Succeeded.
// Run: node bench/rollout-waves.ts [sites=10000]

import { rm } from 'node:fs/promises';
import type { RolloutDetail, RolloutView } from '../src/model/wire.ts';
import { HttpClient } from '../src/net/http-client.ts';
import { commit, machine } from './fleet.ts';
import { posBundle, prepareHub, startLoad } from './protocol-load.ts';
import { appendResults, thousands } from './results.ts';
import { cpuSeconds, generatorCore, hubCore, rssMiB, startHubProcess } from './support.ts';

const sites = Number(process.argv[2] ?? 10_000);
const strategy =
  "{waves: [{name: canary, percent: 1}, {name: half, percent: 50}, {name: rest, percent: 100}], maxConcurrent: '100%', maxFailures: '1%', bakeSeconds: 0, onFailure: pause}";

const prepared = await prepareHub(sites, sites);
const hub = await startHubProcess([], { dataDir: prepared.dataDir });
const operator = new HttpClient(hub.url, { ca: hub.caPem }, () => ({
  authorization: `Bearer ${hub.adminToken}`,
}));
let resolveWindow: () => void = () => {};
const windowOpen = new Promise<void>((r) => {
  resolveWindow = r;
});
const load = await startLoad(
  {
    url: hub.url,
    ca: prepared.ca,
    key: prepared.key,
    sites: prepared.sites,
    reportEveryMs: 30_000,
    maxWaitSeconds: 55,
    connectPerSecond: 300,
    // every site has reported its first revision Ready before the rollout starts
    warmupSeconds: 35,
    windowSeconds: 1,
    reportReadyOnChange: true,
    holdAfterWindow: true,
  },
  { windowStart: resolveWindow },
);
await windowOpen;
const cpu0 = await cpuSeconds(hub.pid);
const t0 = Date.now();
const applied = await operator.request('POST', '/api/v1/bundles/apply', {
  body: posBundle('2', strategy),
});
if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body)}`);
const rolloutId = (applied.body as { rollout?: string }).rollout;
if (!rolloutId) throw new Error(`no rollout started: ${JSON.stringify(applied.body)}`);
const waveDone: Record<string, number> = {};
let detail: RolloutDetail | undefined;
const deadline = Date.now() + 300_000;
while (Date.now() < deadline) {
  const res = await operator.request('GET', `/api/v1/rollouts/${rolloutId}`);
  detail = res.body as RolloutDetail;
  for (const w of detail.waves)
    if ((w.statuses.Updated ?? 0) === w.sites && waveDone[w.name] === undefined)
      waveDone[w.name] = Date.now() - t0;
  if (['Succeeded', 'Failed', 'Paused', 'Aborted'].includes(detail.phase)) break;
  await new Promise((r) => setTimeout(r, 100));
}
const totalMs = Date.now() - t0;
const hubCpu = (await cpuSeconds(hub.pid)) - cpu0;
const rss = await rssMiB(hub.pid);
load.stop();
const result = await load.result;
const listed = (await operator.request('GET', '/api/v1/rollouts?bundle=pos')).body as {
  items: RolloutView[];
};
operator.close();
await hub.stop();
await rm(prepared.dataDir, { recursive: true, force: true });

console.log(
  JSON.stringify(
    {
      benchmark: 'rollout-waves',
      sites,
      connected: result.connected,
      phase: detail?.phase,
      waves: detail?.waves.map((w) => ({ name: w.name, sites: w.sites, doneAfterMs: waveDone[w.name] })),
      totalMs,
      rollouts: listed.items.length,
      controllerTickMs: 5000,
      hubCpuSeconds: Number(hubCpu.toFixed(2)),
      hubRssMiB: Math.round(rss),
      generatorCpuCores: result.generatorCpuCores,
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
  { name: `rollout-${thousands(sites)}-3-waves-done-s`, value: totalMs / 1000, unit: 's' },
]);
