// A protocol-level load generator for the scale benchmarks: many sites speaking the agent API with no
// agent behind them. Each site holds one mTLS keep-alive connection with its own site certificate and
// on it long-polls its desired state and sends its heartbeat reports, as an agent's hub client does
// (the real agent keeps the long-poll and the reports on two connections; here they take turns on one,
// long-polling until the next report is due, so one site costs the hub one socket and one poll per
// heartbeat). It runs in its own process, pinned to its own core, and reports its own CPU.
//
// Setup (`prepareHub`) writes a hub data directory that `outpost hub --data-dir` then serves: the CA,
// N Active sites with two bundles placed, and client certificates for the sites that will connect.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { hubTls } from '../src/hub/identity/ca.ts';
import type { DesiredState, Report } from '../src/model/wire.ts';
import { issueCertificate } from '../src/pki/authority.ts';
import { generateKeyPair } from '../src/pki/keys.ts';
import { benchFleet } from './fleet.ts';
import { SiteConnection, trustOf } from './site-connection.ts';
import { generatorCore, onCore } from './support.ts';

export interface LoadPlan {
  url: string;
  ca: string;
  /** one key pair for every site certificate: key generation is not what is measured */
  key: string;
  sites: Array<{ id: string; cert: string }>;
  /** each site reports this often (0: never; it only long-polls) */
  reportEveryMs: number;
  /** the longest long-poll a site asks for, seconds */
  maxWaitSeconds: number;
  /** sites connect at this rate */
  connectPerSecond: number;
  /** after every site is connected, wait this long, then measure for windowSeconds */
  warmupSeconds: number;
  windowSeconds: number;
  /** on a new desired state, report it Ready at once (as a fleet of healthy sites would) */
  reportReadyOnChange: boolean;
  /** keep running after the window until told to stop on stdin (for fan-out measurements) */
  holdAfterWindow: boolean;
}

export interface LoadResult {
  connected: number;
  requests: { reports: number; polls: number; errors: number; non2xx: number };
  /**
   * over the window: report round trips and the part of each long-poll that is not waiting (of the polls
   * both sent and answered in it)
   */
  reportMs: { p50: number; p99: number; max: number };
  pollOverheadMs: { p50: number; p99: number };
  /**
   * The polls of the window answered more than 100 ms after the wait they asked for (at most 2,000), with
   * wall-clock times to line up against the hub's request log: where a late answer's time went.
   */
  latePolls: Array<{ site: string; waitSeconds: number; sentAt: number; answeredAt: number }>;
  /** the generator's own event-loop delay over the window: a late answer may be late only here */
  generatorEventLoopDelayMs: { p50: number; p99: number; max: number };
  ratePerSecond: number;
  generatorCpuCores: number;
  /** the generator's CPU over the window per connected site per second, µs (what a simulated site costs) */
  generatorCpuUsPerSiteSecond: number;
  /**
   * the generator's resident memory before its first site and the most it held (sampled every 2 s), and
   * its V8 heap in use at the window's end: (peak − base) / connected is what a simulated site costs
   */
  generatorMemoryMiB: { rssBase: number; rssPeak: number; heapUsed: number; external: number };
  /** wall-clock times (ms since epoch) at which sites got a changed desired state, for fan-out */
  changes: number[];
  firstErrors: string[];
}

export interface PreparedHub {
  dataDir: string;
  ca: string;
  key: string;
  sites: Array<{ id: string; cert: string }>;
}

/** A hub data directory with `total` sites, the first `connected` of which get client certificates. */
export async function prepareHub(total: number, connected: number): Promise<PreparedHub> {
  const dataDir = await mkdtemp(join(tmpdir(), 'outpost-bench-hub-'));
  const tls = await hubTls({ dataDir, now: new Date() });
  const fleet = await benchFleet(total, { dataDir, tls });
  const keys = generateKeyPair();
  const sites: PreparedHub['sites'] = [];
  const now = Date.now();
  let rows = [];
  for (let i = 0; i < connected; i++) {
    const id = fleet.siteIdOf(i);
    const issued = issueCertificate(tls.ca, {
      publicKeyPem: keys.publicKeyPem,
      commonName: id,
      usage: 'client',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 7 * 86400_000),
    });
    sites.push({ id, cert: issued.certPem });
    rows.push({
      serial: issued.serialHex,
      site_id: id,
      fingerprint: issued.fingerprintSha256,
      not_before: new Date(now - 60_000).toISOString(),
      not_after: issued.notAfter.toISOString(),
      revoked_at: null,
    });
    if (rows.length === 1000 || i === connected - 1) {
      await fleet.ctx.store.db.insertInto('certificates').values(rows).execute();
      rows = [];
    }
  }
  await fleet.close();
  return { dataDir, ca: tls.ca.certPem, key: keys.privateKeyPem, sites };
}

/**
 * Node flags for every generator process, e.g. to profile one: OUTPOST_BENCH_GENERATOR_NODE_FLAGS=
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" (`node bench/cpu-profile.ts` summarizes the profile it writes).
 */
const generatorNodeFlags = (process.env.OUTPOST_BENCH_GENERATOR_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/** Starts the generator in its own process on its own core; `stop()` ends a held run. */
export async function startLoad(
  plan: LoadPlan,
  on: {
    windowStart?: () => void;
    windowEnd?: () => void;
    ramped?: () => void;
    allChanged?: () => void;
  } = {},
): Promise<{ result: Promise<LoadResult>; stop: () => void; pid: number }> {
  const file = join(tmpdir(), `outpost-load-${process.pid}-${Date.now()}.json`);
  await writeFile(file, JSON.stringify(plan), { mode: 0o600 });
  const [command, args] = onCore(generatorCore, process.execPath, [
    '--max-old-space-size=4096',
    ...generatorNodeFlags,
    import.meta.filename,
    file,
  ]);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let buffered = '';
  const result = new Promise<LoadResult>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
        const msg = JSON.parse(line) as { event: string; result?: LoadResult };
        if (msg.event === 'ramped') on.ramped?.();
        if (msg.event === 'window-start') on.windowStart?.();
        if (msg.event === 'window-end') on.windowEnd?.();
        if (msg.event === 'all-changed') on.allChanged?.();
        if (msg.event === 'result') resolve(msg.result!);
      }
    });
    // 'close', not 'exit': the result line may still be in the pipe when the process has exited
    child.once('close', (code) => reject(new Error(`load generator exited with ${code}`)));
  });
  return { result, stop: () => child.stdin.end('stop\n'), pid: child.pid! };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The generator's own program. */
async function generate(plan: LoadPlan): Promise<void> {
  const emit = (msg: object) => process.stdout.write(`${JSON.stringify(msg)}\n`);
  const rssBase = process.memoryUsage.rss();
  let rssPeak = rssBase;
  const rssSampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 2000);
  let stopping = false;
  let measuring = false;
  const reportMs: number[] = [];
  const pollOverhead: number[] = [];
  const latePolls: LoadResult['latePolls'] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const changes: number[] = [];
  const firstErrors: string[] = [];
  const counts = { reports: 0, polls: 0, errors: 0, non2xx: 0 };
  let connected = 0;
  const fail = (e: unknown) => {
    counts.errors++;
    if (firstErrors.length < 5) firstErrors.push((e as Error).message);
  };

  const trust = trustOf(plan);
  async function site(s: { id: string; cert: string }, index: number): Promise<void> {
    await sleep((index / plan.connectPerSecond) * 1000);
    const connection = new SiteConnection(trust, s.cert);
    let etag: string | undefined;
    /** what the site reports Ready: its desired state's deployments, kept as the report needs them */
    let deployments: Report['deployments'] = [];
    let seq = 0;
    // heartbeats are spread evenly over the interval
    let nextReport = plan.reportEveryMs > 0 ? Date.now() + Math.random() * plan.reportEveryMs : Infinity;
    let counted = false;
    const report = async () => {
      const body: Report = { seq: ++seq, deployments };
      const t = performance.now();
      try {
        const res = await connection.request('POST', `/agent/v1/sites/${s.id}/report`, {
          body: JSON.stringify(body),
          timeoutMs: 30_000,
        });
        if (res.status !== 200) counts.non2xx++;
      } catch (e) {
        fail(e);
      }
      if (measuring) {
        counts.reports++;
        reportMs.push(performance.now() - t);
      }
    };
    while (!stopping) {
      if (Date.now() >= nextReport) {
        await report();
        nextReport += plan.reportEveryMs;
        continue;
      }
      const wait = etag
        ? Math.min(plan.maxWaitSeconds, Math.floor((nextReport - Date.now()) / 1000))
        : undefined;
      if (wait !== undefined && wait < 1) {
        await sleep(Math.max(0, nextReport - Date.now()));
        continue;
      }
      const t = performance.now();
      const sentAt = Date.now();
      // a poll sent before the window (during the ramp's handshakes) measures the ramp, not the steady state
      const sentInWindow = measuring;
      try {
        const res = await connection.request(
          'GET',
          `/agent/v1/sites/${s.id}/desired${wait === undefined ? '' : `?wait=${wait}`}`,
          { ifNoneMatch: etag, timeoutMs: ((wait ?? 0) + 30) * 1000 },
        );
        const took = performance.now() - t;
        if (!counted) {
          counted = true;
          connected++;
          if (connected === plan.sites.length) emit({ event: 'ramped' });
        }
        if (measuring) counts.polls++;
        if (res.status === 200) {
          const changed = etag !== undefined;
          deployments = (JSON.parse(res.body) as DesiredState).deployments.map((d) => ({
            bundle: d.bundle,
            digest: d.digest,
            state: 'Ready',
            counts: { total: 1, applied: 1, ready: 1 },
          }));
          etag = res.etag;
          if (changed) {
            changes.push(Date.now());
            if (changes.length === plan.sites.length) emit({ event: 'all-changed' });
            if (plan.reportReadyOnChange) await report();
          }
        } else if (res.status === 304) {
          const overhead = Math.max(0, took - (wait ?? 0) * 1000);
          if (measuring && sentInWindow) pollOverhead.push(overhead);
          if (measuring && sentInWindow && overhead > 100 && latePolls.length < 2000)
            latePolls.push({ site: s.id, waitSeconds: wait ?? 0, sentAt, answeredAt: Date.now() });
        } else {
          counts.non2xx++;
          await sleep(5000 + Math.random() * 5000);
        }
      } catch (e) {
        fail(e);
        // as an agent does: back off, with jitter, so a struggling hub is not stormed
        await sleep(5000 + Math.random() * 5000);
      }
    }
    connection.close();
  }

  process.stdin.setEncoding('utf8').on('data', () => {
    stopping = true;
  });
  // stdin closed with no word to stop: the harness is gone, and a generator left behind would go on
  // reconnecting its sites and growing until someone kills it
  process.stdin.once('end', () => {
    if (!stopping) process.exit(1);
  });
  const running = plan.sites.map((s, i) => site(s, i));
  // the window opens once every site is connected, or when the ramp has taken three times its plan
  const rampEnds = Date.now() + (3 * plan.sites.length * 1000) / plan.connectPerSecond + 30_000;
  while (connected < plan.sites.length && Date.now() < rampEnds) await sleep(200);
  await sleep(plan.warmupSeconds * 1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  loopDelay.enable();
  emit({ event: 'window-start' });
  await sleep(plan.windowSeconds * 1000);
  measuring = false;
  loopDelay.disable();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const memory = process.memoryUsage();
  emit({ event: 'window-end' });
  if (plan.holdAfterWindow) {
    while (!stopping) await sleep(200);
  }
  stopping = true;
  clearInterval(rssSampler);
  reportMs.sort((a, b) => a - b);
  pollOverhead.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  const result: LoadResult = {
    connected,
    requests: counts,
    reportMs: {
      p50: round(percentile(reportMs, 50)),
      p99: round(percentile(reportMs, 99)),
      max: round(reportMs.at(-1) ?? 0),
    },
    pollOverheadMs: { p50: round(percentile(pollOverhead, 50)), p99: round(percentile(pollOverhead, 99)) },
    latePolls,
    generatorEventLoopDelayMs: {
      p50: round(loopDelay.percentile(50) / 1e6),
      p99: round(loopDelay.percentile(99) / 1e6),
      max: round(loopDelay.max / 1e6),
    },
    ratePerSecond: Math.round((counts.reports + counts.polls) / seconds),
    generatorCpuCores: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 100) / 100,
    generatorCpuUsPerSiteSecond: round((cpu.user + cpu.system) / seconds / Math.max(1, connected)),
    generatorMemoryMiB: {
      rssBase: round(rssBase / 2 ** 20),
      rssPeak: round(Math.max(rssPeak, memory.rss) / 2 ** 20),
      heapUsed: round(memory.heapUsed / 2 ** 20),
      external: round(memory.external / 2 ** 20),
    },
    changes,
    firstErrors,
  };
  // A pipe takes 64 KiB at once; the rest of a longer line (2,000 late polls are ≈ 200 KiB) waits in this
  // process and an exit before it is written loses the result: exit once it is written.
  process.stdout.write(`${JSON.stringify({ event: 'result', result })}\n`, () => {
    // long-polls in flight end with the process
    void running;
    process.exit(0);
  });
}

if (import.meta.main) {
  // the plan holds a private key: read it and remove it at once
  const plan = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as LoadPlan;
  await rm(process.argv[2]!, { force: true });
  await generate(plan);
}

/** The fleet-wide `pos` bundle of benchFleet with other data, optionally with a rollout strategy. */
export function posBundle(
  value: string,
  rollout?: string,
): { files: Array<{ path: string; content: string }> } {
  const spec = rollout ? `{placement: {selector: {}}, rollout: ${rollout}}` : '{placement: {selector: {}}}';
  return {
    files: [
      {
        path: 'pos.yaml',
        content: `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: pos}\nspec: ${spec}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: pos, namespace: default}\ndata: {a: "${value}"}\n`,
      },
    ],
  };
}
