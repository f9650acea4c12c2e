// Benchmark: the steady state of hub replicas (`outpost hub --database postgres://…`, each its own
// process) on one PostgreSQL. Simulated sites register over mTLS, then each holds a long-poll on one
// replica and reports on another every `interval` seconds; midway a new revision is applied and the time
// until every held long-poll (on every replica) has answered with it is measured. With 3 or more
// replicas the last one is the operator's (the revision and its placement go in there) and holds no
// site, so every wake-up crosses replicas. The sites run in site processes of their own (≤ 8,000 sites,
// 16,000 sockets, each: this machine allows a process 20,000 open files). The window opens once every
// site has connected (first poll and report answered, capped); reports unanswered at its end count with
// the time they had waited, so a stalled run still gives figures (and says how many were unanswered).
// Targets (issue 16): with 3 replicas and 10,000 sites, report p99 < 100 ms, the revision everywhere < 3 s.
// Needs the fixture cluster: OUTPOST_TEST_POSTGRES=$(bash scripts/postgres-fixture.sh).
// The issue-16 run, one command, at most ≈ 11 minutes (registration stops at 7, the connect wait at 2.5,
// then the 60 s window): node bench/replicas-postgres.ts 10000
// Run: node bench/replicas-postgres.ts [sites=1000] [seconds=60] [interval=30] [replicas=3]
//      (or --sites, --seconds, --interval, --replicas; --register-seconds: stop registering after, 420)

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { HubApi } from '../src/cli/hub-api.ts';
import { decodeJoinToken } from '../src/model/join-token.ts';
import { HttpClient, type JsonResponse, TransportError } from '../src/net/http-client.ts';
import { createCsr } from '../src/pki/csr.ts';
import { generateKeyPair } from '../src/pki/keys.ts';
import { commit, machine } from './fleet.ts';
import { appendResults, thousands } from './results.ts';
import { cpuSeconds, percentile, rssMiB, startHubProcess } from './support.ts';

/** What a site process is told: its share of the fleet and where each of its sites polls and reports. */
interface SiteShare {
  first: number;
  count: number;
  sites: number;
  interval: number;
  token: string;
  caPem: string;
  urls: string[];
  /** replicas that hold sites: site k polls on k % siteReplicas and reports on (k + 1) % siteReplicas */
  siteReplicas: number;
  /** epoch ms after which no more sites register: the run goes on with those that did */
  registerUntil: number;
}

/** What a site process sends back at the end. */
interface ShareResult {
  /** [epoch ms the report was sent, its round trip ms] */
  reports: Array<[number, number]>;
  /** reports still unanswered at the stop: [epoch ms sent, ms waited until the stop] */
  unanswered: Array<[number, number]>;
  /** epoch ms at which a site's long-poll answered with a desired state other than its first */
  changes: number[];
  errors: number;
  firstErrors: string[];
}

type ToSites = { event: 'stop' };
type FromSites =
  | { event: 'registered'; seconds: number; retries: number; failures: string[]; unregistered: number }
  /** sites with a first poll and a first report answered, sent every 2 s while the sites run */
  | { event: 'connected'; sites: number }
  | { event: 'result'; result: ShareResult };

const sitesPerProcess = 8000;

async function runShare(share: SiteShare): Promise<void> {
  const send = (msg: FromSites) => process.send!(msg);
  interface SimSite {
    id: string;
    poll: HttpClient;
    report: HttpClient;
    seq: number;
    etag: string;
  }
  const t0 = performance.now();
  const anon = share.urls.map((u) => new HttpClient(u, { ca: share.caPem }));
  const simulated: SimSite[] = [];
  let registrationRetries = 0;
  // a site that cannot register is left out and said, not the end of the run
  const registrationFailures: string[] = [];
  let stopping = false;
  const result: ShareResult = { reports: [], unanswered: [], changes: [], errors: 0, firstErrors: [] };
  const polled = new Set<SimSite>();
  const reported = new Set<SimSite>();
  const connected = () => simulated.filter((s) => polled.has(s) && reported.has(s)).length;
  const progress = setInterval(() => send({ event: 'connected', sites: connected() }), 2000);
  /** reports on their way: sent at [epoch ms, performance ms] */
  const inFlight = new Map<SimSite, [number, number]>();
  const fail = (what: string) => {
    result.errors++;
    if (result.firstErrors.length < 5) result.firstErrors.push(what);
  };
  const pollLoop = async (s: SimSite) => {
    while (!stopping) {
      try {
        const r = await s.poll.request('GET', `/agent/v1/sites/${s.id}/desired?wait=25`, {
          headers: s.etag ? { 'if-none-match': s.etag } : {},
        });
        if (r.status === 200) {
          if (s.etag) result.changes.push(Date.now());
          s.etag = String(r.headers.etag);
        } else if (r.status !== 304) fail(`poll: HTTP ${r.status}`);
        polled.add(s);
      } catch (e) {
        if (!stopping) fail(`poll: ${(e as Error).message}`);
      }
    }
  };
  const reportLoop = async (s: SimSite, offsetMs: number) => {
    await new Promise((r) => setTimeout(r, offsetMs));
    while (!stopping) {
      const at = Date.now();
      const t = performance.now();
      inFlight.set(s, [at, t]);
      try {
        const r = await s.report.request('POST', `/agent/v1/sites/${s.id}/report`, {
          body: { seq: ++s.seq, deployments: [] },
        });
        if (r.status !== 200) fail(`report: HTTP ${r.status}`);
        else reported.add(s);
        if (!stopping) result.reports.push([at, performance.now() - t]);
      } catch (e) {
        if (!stopping) fail(`report: ${(e as Error).message}`);
      }
      inFlight.delete(s);
      await new Promise((r) => setTimeout(r, share.interval * 1000));
    }
  };
  const loops: Array<Promise<void>> = [];
  let unregistered = 0;
  for (let i = 0; i < share.count; i += 25) {
    if (Date.now() > share.registerUntil) {
      unregistered = share.count - i;
      break;
    }
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, share.count - i) }, async (_, j) => {
        const k = share.first + i + j;
        const key = generateKeyPair().privateKeyPem;
        const request = {
          token: share.token,
          machineId: `bench-machine-${k}`,
          name: `store-${k}`,
          labels: { region: `r${k % 8}` },
          csr: createCsr({ commonName: 'site', keyPem: key }),
        };
        // as an agent does, a registration that timed out or failed on the hub's side is tried again
        const register = async (attempt: number): Promise<JsonResponse> => {
          const r = await anon[(k + attempt) % share.urls.length]!.request('POST', '/agent/v1/register', {
            body: request,
            timeoutMs: 120_000,
          }).catch((e: unknown) => {
            if (attempt < 4 && e instanceof TransportError) return undefined;
            throw e;
          });
          if (r && (r.status < 500 || attempt >= 4)) return r;
          registrationRetries++;
          return register(attempt + 1);
        };
        const r = await register(0).catch((e: unknown) => ({ status: 0, body: (e as Error).message }));
        if (r.status !== 200) {
          registrationFailures.push(`store-${k}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
          return undefined;
        }
        const body = r.body as { siteId: string; certificate: string };
        const tls = { ca: share.caPem, cert: body.certificate, key };
        return {
          id: body.siteId,
          poll: new HttpClient(share.urls[k % share.siteReplicas]!, tls, () => ({}), 1),
          report: new HttpClient(share.urls[(k + 1) % share.siteReplicas]!, tls, () => ({}), 1),
          seq: 0,
          etag: '',
        };
      }),
    );
    for (const s of batch) {
      if (!s) continue;
      // as an agent does: polling and reporting from the moment it has its certificate
      loops.push(pollLoop(s), reportLoop(s, (simulated.length / share.count) * share.interval * 1000));
      simulated.push(s);
    }
  }
  for (const c of anon) c.close();
  send({
    event: 'registered',
    seconds: (performance.now() - t0) / 1000,
    retries: registrationRetries,
    failures: registrationFailures,
    unregistered,
  });
  await new Promise<void>((r) => process.once('message', () => r()));
  stopping = true;
  clearInterval(progress);
  const stoppedAt = performance.now();
  for (const [at, t] of inFlight.values()) result.unanswered.push([at, stoppedAt - t]);
  for (const s of simulated) {
    s.poll.close();
    s.report.close();
  }
  await Promise.allSettled(loops);
  // disconnecting before a large message is flushed loses it
  process.send!({ event: 'result', result } satisfies FromSites, () => process.disconnect());
}

if (process.env.OUTPOST_BENCH_SITE_SHARE) {
  await runShare(JSON.parse(process.env.OUTPOST_BENCH_SITE_SHARE) as SiteShare);
} else {
  await main();
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      sites: { type: 'string' },
      seconds: { type: 'string' },
      interval: { type: 'string' },
      replicas: { type: 'string' },
      'register-seconds': { type: 'string' },
    },
  });
  const sites = Number(values.sites ?? positionals[0] ?? 1000);
  const seconds = Number(values.seconds ?? positionals[1] ?? 60);
  const interval = Number(values.interval ?? positionals[2] ?? 30);
  const replicas = Number(values.replicas ?? positionals[3] ?? 3);
  // a machine that cannot register the whole fleet in time still gives the window's figures
  const registerSeconds = Number(values['register-seconds'] ?? 420);
  const server = process.env.OUTPOST_TEST_POSTGRES;
  if (!server) throw new Error('set OUTPOST_TEST_POSTGRES=$(bash scripts/postgres-fixture.sh)');
  if (replicas < 2) throw new Error('--replicas: at least 2 (one for polls, one for reports)');
  /** with 3 or more, the last replica is the operator's alone */
  const siteReplicas = replicas >= 3 ? replicas - 1 : replicas;

  const adminToken = `oat_00000000-0000-7000-8000-00000000b0b0.${randomBytes(12).toString('hex')}`;
  const dbName = `outpost_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = new URL(server);
  url.pathname = `/${dbName}`;
  const database = url.toString();

  /** CPU seconds of the PostgreSQL server: the postmaster and every backend it forked, ended ones too. */
  async function postgresCpu(): Promise<number> {
    const pids = (await admin.query<{ pid: number }>('select pid from pg_stat_activity')).rows.map(
      (r) => r.pid,
    );
    const master = Number(
      (
        await readFile(
          `${(await admin.query('show data_directory')).rows[0].data_directory}/postmaster.pid`,
          'utf8',
        )
      ).split('\n')[0],
    );
    // backends that have ended (a pool that lost its connections makes new ones) count in the
    // postmaster's cutime + cstime once it has reaped them
    const stat = await readFile(`/proc/${master}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let total = (Number(fields[13]) + Number(fields[14])) / 100;
    for (const pid of new Set([master, ...pids])) total += await cpuSeconds(pid).catch(() => 0);
    return total;
  }

  const a = await startHubProcess(['--database', database, '--admin-token', adminToken], {
    adminToken,
    core: false,
  });
  const dataDirA = a.dataDir;
  const hubs = [a];
  // the other replicas sign with A's CA, as replicas of one hub do
  while (hubs.length < replicas) {
    hubs.push(
      await startHubProcess(
        [
          '--database',
          database,
          '--admin-token',
          adminToken,
          '--ca-cert',
          `${dataDirA}/ca.crt`,
          '--ca-key',
          `${dataDirA}/ca.key`,
        ],
        { adminToken, core: false },
      ),
    );
  }
  const operatorHub = hubs[replicas - 1]!;
  const api = new HubApi(operatorHub.url, adminToken, a.caPem);

  const { joinToken } = await api.createBootstrapToken({
    description: 'bench',
    autoApprove: true,
    maxUses: sites,
  });
  const bundle = (v: string) => ({
    files: [
      {
        path: 'app/bundle.yaml',
        content: `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: app}\nspec:\n  placement: {selector: {}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: default}\ndata: {v: "${v}"}\n`,
      },
    ],
  });
  await api.applyBundle(bundle('1'));

  const shares: Array<{
    child: ReturnType<typeof fork>;
    registered: Promise<number>;
    result: Promise<ShareResult>;
    /** the share's sites with a first poll and report answered, as it last said */
    connected: number;
  }> = [];
  const regStart = performance.now();
  let registrationRetries = 0;
  const registrationFailures: string[] = [];
  let unregistered = 0;
  const perProcess = Math.ceil(sites / Math.ceil(sites / sitesPerProcess));
  for (let first = 0; first < sites; first += perProcess) {
    const share: SiteShare = {
      first,
      count: Math.min(perProcess, sites - first),
      sites,
      interval,
      token: decodeJoinToken(joinToken)!.token,
      caPem: a.caPem,
      urls: hubs.slice(0, siteReplicas).map((h) => h.url),
      siteReplicas,
      registerUntil: Date.now() + registerSeconds * 1000,
    };
    const child = fork(import.meta.filename, [], {
      env: { ...process.env, OUTPOST_BENCH_SITE_SHARE: JSON.stringify(share) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    process.once('exit', () => child.kill());
    const exited = new Promise<never>((_, reject) =>
      // 'close' comes after the IPC channel has delivered the process's last messages ('exit' may not)
      child.once('close', (code) => reject(new Error(`site process ended with ${code}`))),
    );
    const message = (event: FromSites['event']) =>
      Promise.race([
        exited,
        new Promise<FromSites>((resolve) => {
          const on = (msg: FromSites) => {
            if (msg.event !== event) return;
            child.off('message', on);
            resolve(msg);
          };
          child.on('message', on);
        }),
      ]);
    const registered = message('registered').then((m) => {
      const r = m as Extract<FromSites, { event: 'registered' }>;
      registrationRetries += r.retries;
      registrationFailures.push(...r.failures);
      unregistered += r.unregistered;
      return (performance.now() - regStart) / 1000;
    });
    const result = message('result').then((m) => (m as { result: ShareResult }).result);
    result.catch(() => {});
    const entry = { child, registered, result, connected: 0 };
    child.on('message', (m: FromSites) => {
      if (m.event === 'connected') entry.connected = m.sites;
    });
    shares.push(entry);
  }
  const registrationSeconds = Math.max(...(await Promise.all(shares.map((s) => s.registered))));
  const registeredSites = sites - registrationFailures.length - unregistered;
  console.error(
    `${registeredSites} of ${sites} sites registered in ${registrationSeconds.toFixed(0)} s` +
      (registrationFailures.length ? `; failures: ${registrationFailures.slice(0, 3).join('; ')}` : ''),
  );

  // Sites poll and report from their registration on, as agents do (one that waited for the whole fleet
  // to register went Stale, and the window opened on 2 × sites TLS handshakes and a storm of returns
  // from Stale). The window opens once each has a poll and a report answered; past the cap it opens
  // anyway, with the count.
  const connectStart = performance.now();
  const connectCapMs = Math.max(120_000, registeredSites * 15);
  const sitesConnected = () => shares.reduce((n, s) => n + s.connected, 0);
  while (sitesConnected() < registeredSites && performance.now() - connectStart < connectCapMs) {
    await new Promise((r) => setTimeout(r, 1000));
  }
  const connectSeconds = (performance.now() - connectStart) / 1000;
  const connectedAtWindow = sitesConnected();
  console.error(`${connectedAtWindow} sites connected in ${connectSeconds.toFixed(0)} s`);

  const cpu0 = await Promise.all(hubs.map((h) => cpuSeconds(h.pid)));
  const pgCpu0 = await postgresCpu();
  const overflows0 = await listenOverflows();
  const waits = sampleWaits(server, dbName);
  const loadAtStart = loadavg().map((l) => +l.toFixed(1));
  const windowStart = Date.now();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
  // every site now holds a poll with revision 1; revision 2 goes in on the operator's replica
  const newRevisionAt = Date.now();
  // an apply the client gives up on may still commit on the hub: the window goes on and counts the reach
  const applyError = await api.applyBundle(bundle('2')).then(
    () => undefined,
    (e: unknown) => (e as Error).message,
  );
  const applyMs = Date.now() - newRevisionAt;
  console.error(`revision 2 ${applyError ? `not applied: ${applyError}` : 'applied'} in ${applyMs} ms`);
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
  const elapsed = (performance.now() - started) / 1000;
  const cpu1 = await Promise.all(hubs.map((h) => cpuSeconds(h.pid)));
  const pgCpu1 = await postgresCpu();
  const overflows1 = await listenOverflows();
  const rss = await Promise.all(hubs.map((h) => rssMiB(h.pid)));
  const dbSize = (await admin.query('select pg_database_size($1) as n', [dbName])).rows[0].n;
  const waitSamples = await waits.stop();
  for (const s of shares) s.child.send({ event: 'stop' } satisfies ToSites);
  const results = await Promise.all(shares.map((s) => s.result));
  for (const h of hubs) await h.stop();
  api.close();
  await admin.query(`drop database ${dbName} with (force)`);
  await admin.end();

  const reports = results.flatMap((r) => r.reports).filter(([at]) => at >= windowStart);
  // a report still unanswered at the stop counts with the time it had waited: a lower bound, so a
  // stalled run still has a tail figure instead of none
  const unanswered = results.flatMap((r) => r.unanswered).filter(([at]) => at >= windowStart);
  const reportLatency = [...reports, ...unanswered].map(([, ms]) => ms).sort((x, y) => x - y);
  // reports sent while the fleet-wide apply was running: what waits for rows it holds
  const duringApply = reports
    .filter(([at]) => at >= newRevisionAt && at <= newRevisionAt + applyMs)
    .map(([, ms]) => ms)
    .sort((x, y) => x - y);
  const reachedAt = results
    .flatMap((r) => r.changes)
    .filter((at) => at >= newRevisionAt)
    .map((at) => at - newRevisionAt)
    .sort((x, y) => x - y);
  const cores = (c: number, c0: number) => +((c - c0) / elapsed).toFixed(2);
  const result = {
    machine: machine(),
    commit: commit(),
    loadavgAtStart: loadAtStart,
    loadavgAtEnd: loadavg().map((l) => +l.toFixed(1)),
    sites,
    replicas,
    siteProcesses: shares.length,
    seconds: Math.round(elapsed),
    reportIntervalSeconds: interval,
    registrationPerSecond: Math.round(sites / registrationSeconds),
    registrationRetries,
    registrationFailures: registrationFailures.length,
    /** sites left unregistered when --register-seconds ran out */
    unregistered,
    firstRegistrationFailures: registrationFailures.slice(0, 3),
    connect: { seconds: Math.round(connectSeconds), sites: connectedAtWindow },
    reports: reportLatency.length,
    unansweredReports: unanswered.length,
    reportsPerSecond: Math.round(reports.length / elapsed),
    reportLatencyMs: {
      p50: +percentile(reportLatency, 50).toFixed(1),
      p99: +percentile(reportLatency, 99).toFixed(1),
      max: +(reportLatency.at(-1) ?? 0).toFixed(1),
    },
    reportLatencyDuringApplyMs: {
      reports: duringApply.length,
      p50: +percentile(duringApply, 50).toFixed(1),
      max: +(duringApply.at(-1) ?? 0).toFixed(1),
    },
    newRevision: {
      applyMs: Math.round(applyMs),
      applyError,
      sitesReached: reachedAt.length,
      p50Ms: Math.round(percentile(reachedAt, 50)),
      allMs: Math.round(reachedAt.at(-1) ?? Number.NaN),
    },
    errors: results.reduce((n, r) => n + r.errors, 0),
    firstErrors: results.flatMap((r) => r.firstErrors).slice(0, 5),
    hubCpuCores: cpu1.map((c, i) => cores(c, cpu0[i]!)),
    postgresCpuCores: cores(pgCpu1, pgCpu0),
    hubRssMiB: rss.map((r) => Math.round(r)),
    databaseMiB: +(Number(dbSize) / 1024 / 1024).toFixed(1),
    postgresWaits: waitSamples,
    /** the machine's listen-queue overflows over the window (every process's: a hint, not the hubs' own) */
    listenOverflows: overflows1 - overflows0,
  };
  console.log(JSON.stringify(result, null, 2));
  const fleet = `pg-${replicas}replicas-${thousands(sites)}`;
  const atTarget = replicas === 3 && sites === 10_000;
  await appendResults([
    {
      name: `${fleet}-report-p99-ms`,
      value: result.reportLatencyMs.p99,
      unit: 'ms',
      ...(atTarget ? { target: 100, op: '<' as const } : {}),
    },
    {
      name: `${fleet}-revision-s`,
      // a site the revision never reached leaves the figure undefined, not the last one that it reached
      value: reachedAt.length >= registeredSites ? result.newRevision.allMs / 1000 : Number.NaN,
      unit: 's',
      ...(atTarget ? { target: 3, op: '<' as const } : {}),
    },
    // so a revision that did not reach every site still says how far it got
    { name: `${fleet}-revision-sites-reached`, value: reachedAt.length, unit: 'sites' },
    {
      name: `${fleet}-replicas-cpu-cores`,
      value: +result.hubCpuCores.reduce((x, y) => x + y, 0).toFixed(2),
      unit: 'cores',
    },
    { name: `${fleet}-postgres-cpu-cores`, value: result.postgresCpuCores, unit: 'cores' },
  ]);
}

/** The machine's TCP listen-queue overflows so far (TcpExt ListenOverflows in /proc/net/netstat). */
async function listenOverflows(): Promise<number> {
  const lines = (await readFile('/proc/net/netstat', 'utf8')).split('\n');
  const header = lines.findIndex((l) => l.startsWith('TcpExt:'));
  const names = lines[header]!.split(' ');
  const values = lines[header + 1]!.split(' ');
  return Number(values[names.indexOf('ListenOverflows')] ?? Number.NaN);
}

/** What the replicas' backends were doing over the window, from pg_stat_activity sampled every 250 ms. */
interface WaitSamples {
  samples: number;
  /** backends seen per sample, on average, by state and wait (`active Lock:transactionid`, `idle -`) */
  backends: Record<string, number>;
  /** the statements seen waiting on a lock, by their first 80 characters, with how often */
  lockedStatements: Record<string, number>;
  /** who waits on whom: `waiting statement <- statement of the backend holding the lock`, with how often */
  blockedBy: Record<string, number>;
  /** deadlocks PostgreSQL detected in the database over the window (each cost its victim ≥ 1 s) */
  deadlocks: number;
  /** the longest a statement / a transaction was seen running, in ms, with the statement */
  longestStatementMs: number;
  longestStatement: string;
  longestTransactionMs: number;
  longestTransaction: string;
}

/**
 * Samples the database's backends until stopped: whether reports wait on row locks (Lock), on the
 * server's internals (LWLock, IO), or sit idle while the replicas' pools are the queue (Client).
 */
function sampleWaits(server: string, database: string): { stop(): Promise<WaitSamples> } {
  const client = new pg.Client({ connectionString: server });
  const out: WaitSamples = {
    samples: 0,
    backends: {},
    lockedStatements: {},
    blockedBy: {},
    deadlocks: 0,
    longestStatementMs: 0,
    longestStatement: '',
    longestTransactionMs: 0,
    longestTransaction: '',
  };
  let stopping = false;
  const running = (async () => {
    await client.connect();
    const deadlocks = async () =>
      Number(
        (await client.query('select deadlocks from pg_stat_database where datname = $1', [database])).rows[0]
          ?.deadlocks ?? 0,
      );
    const deadlocks0 = await deadlocks();
    while (!stopping) {
      const { rows } = await client.query<{
        pid: number;
        blockers: number[];
        state: string | null;
        wait: string | null;
        query: string;
        statement_ms: number | null;
        transaction_ms: number | null;
      }>(
        `select pid, pg_blocking_pids(pid) as blockers, state, wait_event_type || ':' || wait_event as wait, left(query, 80) as query,
           extract(epoch from now() - query_start) * 1000 as statement_ms,
           extract(epoch from now() - xact_start) * 1000 as transaction_ms
         from pg_stat_activity where datname = $1 and backend_type = 'client backend'`,
        [database],
      );
      out.samples++;
      const queryOf = new Map(rows.map((r) => [r.pid, r.query]));
      for (const r of rows) {
        for (const b of r.blockers ?? []) {
          const key = `${r.query.slice(0, 50)} <- ${(queryOf.get(b) ?? '?').slice(0, 50)}`;
          out.blockedBy[key] = (out.blockedBy[key] ?? 0) + 1;
        }
        const key = `${r.state ?? '?'} ${r.wait ?? '-'}`;
        out.backends[key] = (out.backends[key] ?? 0) + 1;
        if (r.wait?.startsWith('Lock:')) {
          out.lockedStatements[r.query] = (out.lockedStatements[r.query] ?? 0) + 1;
        }
        // a LISTEN session sits idle for ever: only statements running and transactions open count
        if (r.state === 'active' && Number(r.statement_ms) > out.longestStatementMs) {
          out.longestStatementMs = Math.round(Number(r.statement_ms));
          out.longestStatement = r.query;
        }
        if (r.transaction_ms !== null && Number(r.transaction_ms) > out.longestTransactionMs) {
          out.longestTransactionMs = Math.round(Number(r.transaction_ms));
          out.longestTransaction = r.query;
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    out.deadlocks = (await deadlocks()) - deadlocks0;
    await client.end();
  })();
  return {
    async stop() {
      stopping = true;
      await running;
      for (const k of Object.keys(out.backends)) {
        out.backends[k] = +(out.backends[k]! / Math.max(1, out.samples)).toFixed(2);
      }
      return out;
    },
  };
}
