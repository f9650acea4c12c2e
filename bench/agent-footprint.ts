// Benchmark: the agent's footprint at rest (targets: RSS < 80 MiB, idle CPU < 1% of a core). Runs
// `./outpost agent` exactly as a site would (the build in dist/app with the Node flags the launcher
// gives it) as its own process against a local kube-apiserver and an in-process hub, places 5 bundles on
// it, waits until all are Ready, lets it settle, then samples its RSS and CPU time from /proc for a
// while: long-polls, heartbeats, watches and (with the default 360 s) one periodic drift check fall
// inside the window. The as-shipped run appends `agent-rss-mib` and `agent-idle-cpu-pct` to
// bench/results.json.
//
// For comparison only (nothing is recorded): `--from-source` runs `node src/cli/main.ts agent` (Node
// strips the types as it loads), `--node-flags="…"` runs the build with other Node flags.
//
//   node bench/agent-footprint.ts [--seconds 360] [--bundles 5] [--settle 30] [--from-source | --node-flags="--jitless"]

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HubApi } from '../src/cli/hub-api.ts';
import { startHub } from '../src/hub/start.ts';
import { eventually } from '../test/support/eventually.ts';
import { bundleFile } from '../test/support/fleet.ts';
import { startKube } from '../test/support/kube.ts';
import { describeMachine, median } from './machine.ts';
import { appendResults } from './results.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '360' },
    bundles: { type: 'string', default: '5' },
    settle: { type: 'string', default: '30' },
    'from-source': { type: 'boolean', default: false },
    'node-flags': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const bundleCount = Number(values.bundles);
const settleSeconds = Number(values.settle);
const root = resolve(import.meta.dirname, '..');
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const asShipped = !values['from-source'] && values['node-flags'] === undefined;

/** The command line of each form: as shipped, `./outpost` itself (it execs node, keeping the pid). */
function agentCommand(): [string, string[]] {
  if (values['from-source']) return [process.execPath, [join(root, 'src/cli/main.ts')]];
  if (values['node-flags'] !== undefined) {
    const flags = values['node-flags'].split(' ').filter(Boolean);
    return [process.execPath, [...flags, join(root, 'dist/app/outpost.mjs')]];
  }
  return ['bash', [join(root, 'outpost')]];
}

/** Ten objects of kinds that are ready once applied, so the site comes to rest. */
function manifests(b: number) {
  const out: unknown[] = [];
  for (let i = 0; i < 4; i++)
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `b${b}-cm${i}` },
      data: { i: `${i}` },
    });
  for (let i = 0; i < 2; i++) {
    out.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `b${b}-s${i}` }, stringData: { k: 'v' } });
    out.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `b${b}-sa${i}` } });
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `b${b}-svc${i}` },
      spec: { selector: { app: `b${b}` }, ports: [{ port: 80 + i }] },
    });
  }
  return out;
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

/** Memory only this process holds (anonymous, dirty): what it costs beyond the shared node executable. */
async function privateKiB(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/Private_Dirty:\s+(\d+)/.exec(rollup)?.[1] ?? Number.NaN);
}

async function cpuTicks(pid: number): Promise<number> {
  // fields after the command name in parentheses: utime and stime are the 12th and 13th
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

// the build the agent runs must be the one of this tree
execFileSync('bash', [join(root, 'scripts/build-app.sh')], { stdio: 'inherit' });
const kube = await startKube();
const dir = await mkdtemp(join(tmpdir(), 'outpost-footprint-'));
const hub = await startHub({ dataDir: join(dir, 'hub'), listen: '127.0.0.1:0' });
const api = new HubApi(hub.url, hub.adminToken, hub.caPem);
const { joinToken } = await api.createBootstrapToken({ autoApprove: true });
let agent: ChildProcess | undefined;
try {
  const log = openSync(join(dir, 'agent.log'), 'a');
  const [command, prefix] = agentCommand();
  agent = spawn(
    command,
    [
      ...prefix,
      'agent',
      '--join-token',
      joinToken,
      '--name',
      'bench-site',
      '--label',
      'bench=yes',
      '--kubeconfig',
      kube.kubeconfigPath,
      '--state-dir',
      join(dir, 'agent'),
      '--local-page',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', log, log] },
  );
  const pid = agent.pid!;
  await eventually('the site to register', async () => (await api.sites()).length === 1, {
    timeoutMs: 30_000,
  });
  for (let b = 0; b < bundleCount; b++) {
    await api.applyBundle(bundleFile(`bundle-${b}`, { matchLabels: { bench: 'yes' } }, manifests(b)));
  }
  await eventually(
    `${bundleCount} bundles to be Ready`,
    async () => {
      const site = await api.site('bench-site');
      return site.deployments.length === bundleCount && site.deployments.every((d) => d.state === 'Ready');
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  // what actually runs: ./outpost has exec'd node by now
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  const shown = cmdline
    .slice(0, cmdline.indexOf('agent') + 1)
    .map((a) => a.replace(`${root}/`, '').replace(process.execPath, 'node'))
    .join(' ');
  if (asShipped && !cmdline.some((a) => a.endsWith('dist/app/outpost.mjs')))
    throw new Error(`./outpost did not run the build: ${shown}`);

  const samples: number[] = [];
  const privateSamples: number[] = [];
  const ticks0 = await cpuTicks(pid);
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    samples.push(await rssKiB(pid));
    privateSamples.push(await privateKiB(pid));
    await new Promise((r) => setTimeout(r, 1000));
  }
  const cpuSeconds = (await cpuTicks(pid)) - ticks0;
  const elapsed = (performance.now() - t0) / 1000;
  const cpuPercent = ((cpuSeconds / clockTicks) * 100) / elapsed;
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  const rssMib = Math.round((median(samples) / 1024) * 10) / 10;
  const site = await api.site('bench-site');
  if (!site.deployments.every((d) => d.state === 'Ready')) throw new Error('the site did not stay Ready');

  console.log(`## Agent footprint at rest (bench/agent-footprint.ts)

${await describeMachine()}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(
      ' ',
    )}; \`${shown}\`${asShipped ? ' (as `./outpost agent` starts it)' : ''} as its own process, ${bundleCount} bundles of 10 objects each, all Ready; sampled every second for ${Math.round(elapsed)} s after ${settleSeconds} s of settling.

| what | result | target |
|---|---|---|
| RSS at rest, median (max) | ${mib(median(samples))} (${mib(Math.max(...samples))}) | < 80 MiB |
| of which private to the process (the rest is the node executable's shared, clean pages), median | ${mib(median(privateSamples))} | — |
| CPU at rest, share of one core | ${cpuPercent.toFixed(2)} % | < 1 % |
`);
  if (asShipped) {
    await appendResults([
      { name: 'agent-rss-mib', value: rssMib, unit: 'MiB', target: 80, op: '<' },
      {
        name: 'agent-idle-cpu-pct',
        value: Math.round(cpuPercent * 100) / 100,
        unit: '%',
        target: 1,
        op: '<',
      },
    ]);
    console.log('recorded agent-rss-mib and agent-idle-cpu-pct in bench/results.json');
  }
} finally {
  agent?.kill('SIGTERM');
  await new Promise((r) => (agent && agent.exitCode === null ? agent.once('exit', r) : r(undefined)));
  api.close();
  await hub.close();
  await kube.stop();
  await rm(dir, { recursive: true, force: true });
}
