// Benchmark: the steady state of hub replicas (`outpost hub --database postgres://…`, each its own
// process) on one PostgreSQL. Simulated sites register over mTLS, then each holds a long-poll on one
// replica and reports on the next every `interval` seconds; midway a new revision is applied on replica
// A and the time until every held long-poll (on every replica) has answered with it is measured.
// Targets (issue 16): with 3 replicas and 10,000 sites, report p99 < 100 ms, the revision everywhere < 3 s.
// Needs the fixture cluster: OUTPOST_TEST_POSTGRES=$(bash scripts/postgres-fixture.sh).
// Run: node bench/replicas-postgres.ts [sites=1000] [seconds=60] [interval=10] [replicas=3]

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { HubApi } from '../src/cli/hub-api.ts';
import { decodeJoinToken } from '../src/model/join-token.ts';
import { HttpClient } from '../src/net/http-client.ts';
import { createCsr } from '../src/pki/csr.ts';
import { generateKeyPair } from '../src/pki/keys.ts';
import { commit, machine } from './fleet.ts';
import { appendResults, thousands } from './results.ts';
import { cpuSeconds, percentile, rssMiB, startHubProcess } from './support.ts';

const sites = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 60);
const interval = Number(process.argv[4] ?? 10);
const replicas = Number(process.argv[5] ?? 3);
const server = process.env.OUTPOST_TEST_POSTGRES;
if (!server) throw new Error('set OUTPOST_TEST_POSTGRES=$(bash scripts/postgres-fixture.sh)');

const adminToken = `oat_00000000-0000-7000-8000-00000000b0b0.${randomBytes(12).toString('hex')}`;
const dbName = `outpost_bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: server });
await admin.connect();
await admin.query(`create database ${dbName}`);
const url = new URL(server);
url.pathname = `/${dbName}`;
const database = url.toString();

/** CPU seconds of the PostgreSQL server: the postmaster and every backend it forked. */
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
  let total = 0;
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
const api = new HubApi(a.url, adminToken, a.caPem);

interface SimSite {
  id: string;
  poll: HttpClient;
  report: HttpClient;
  seq: number;
  etag: string;
}

const { joinToken } = await api.createBootstrapToken({
  description: 'bench',
  autoApprove: true,
  maxUses: sites,
});
const token = decodeJoinToken(joinToken)!.token;
const regStart = performance.now();
const simulated: SimSite[] = [];
const anon = hubs.map((h) => new HttpClient(h.url, { ca: a.caPem }));
for (let i = 0; i < sites; i += 50) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(50, sites - i) }, async (_, j) => {
      const k = i + j;
      const key = generateKeyPair().privateKeyPem;
      const r = await anon[k % replicas]!.request('POST', '/agent/v1/register', {
        body: {
          token,
          machineId: `bench-machine-${k}`,
          name: `store-${k}`,
          labels: { region: `r${k % 8}` },
          csr: createCsr({ commonName: 'site', keyPem: key }),
        },
      });
      if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
      const body = r.body as { siteId: string; certificate: string };
      const tls = { ca: a.caPem, cert: body.certificate, key };
      return {
        id: body.siteId,
        poll: new HttpClient(hubs[k % replicas]!.url, tls, () => ({}), 1),
        report: new HttpClient(hubs[(k + 1) % replicas]!.url, tls, () => ({}), 1),
        seq: 0,
        etag: '',
      };
    }),
  );
  simulated.push(...batch);
}
const registrationSeconds = (performance.now() - regStart) / 1000;
for (const c of anon) c.close();

const bundle = (v: string) => ({
  files: [
    {
      path: 'app/bundle.yaml',
      content: `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: app}\nspec:\n  placement: {selector: {}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: default}\ndata: {v: "${v}"}\n`,
    },
  ],
});
await api.applyBundle(bundle('1'));

let stopping = false;
const reportLatency: number[] = [];
let errors = 0;
let newRevisionAt = 0;
/** long-polls answered with a new etag after the new revision went in */
const answers: Array<{ etag: string; ms: number }> = [];

async function pollLoop(s: SimSite): Promise<void> {
  while (!stopping) {
    try {
      const r = await s.poll.request('GET', `/agent/v1/sites/${s.id}/desired?wait=25`, {
        headers: s.etag ? { 'if-none-match': s.etag } : {},
      });
      if (r.status === 200) {
        s.etag = String(r.headers.etag);
        if (newRevisionAt) answers.push({ etag: s.etag, ms: performance.now() - newRevisionAt });
      } else if (r.status !== 304) errors++;
    } catch {
      if (!stopping) errors++;
    }
  }
}

async function reportLoop(s: SimSite, offsetMs: number): Promise<void> {
  await new Promise((r) => setTimeout(r, offsetMs));
  while (!stopping) {
    const t = performance.now();
    try {
      const r = await s.report.request('POST', `/agent/v1/sites/${s.id}/report`, {
        body: { seq: ++s.seq, deployments: [] },
      });
      if (r.status !== 200) errors++;
      reportLatency.push(performance.now() - t);
    } catch {
      if (!stopping) errors++;
    }
    await new Promise((r) => setTimeout(r, interval * 1000));
  }
}

const cpu0 = await Promise.all(hubs.map((h) => cpuSeconds(h.pid)));
const pgCpu0 = await postgresCpu();
const started = performance.now();
const loops = simulated.flatMap((s, i) => [pollLoop(s), reportLoop(s, (i / sites) * interval * 1000)]);
await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
// every site now holds a poll with revision 1; revision 2 goes in on A, most polls are on other replicas
newRevisionAt = performance.now();
await api.applyBundle(bundle('2'));
const applyMs = performance.now() - newRevisionAt;
const probe = simulated[0]!;
const wantEtag = String(
  (await probe.report.request('GET', `/agent/v1/sites/${probe.id}/desired`)).headers.etag,
);
await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
const elapsed = (performance.now() - started) / 1000;
const cpu1 = await Promise.all(hubs.map((h) => cpuSeconds(h.pid)));
const pgCpu1 = await postgresCpu();
const rss = await Promise.all(hubs.map((h) => rssMiB(h.pid)));
const dbSize = (await admin.query('select pg_database_size($1) as n', [dbName])).rows[0].n;
stopping = true;
for (const h of hubs) await h.stop();
await Promise.allSettled(loops);
for (const s of simulated) {
  s.poll.close();
  s.report.close();
}
api.close();
await admin.query(`drop database ${dbName} with (force)`);
await admin.end();

reportLatency.sort((x, y) => x - y);
const reachedAt = answers
  .filter((x) => x.etag === wantEtag)
  .map((x) => x.ms)
  .sort((x, y) => x - y);
const result = {
  machine: machine(),
  commit: commit(),
  sites,
  replicas,
  seconds: Math.round(elapsed),
  reportIntervalSeconds: interval,
  registrationPerSecond: Math.round(sites / registrationSeconds),
  reports: reportLatency.length,
  reportsPerSecond: Math.round(reportLatency.length / elapsed),
  reportLatencyMs: {
    p50: +percentile(reportLatency, 50).toFixed(1),
    p99: +percentile(reportLatency, 99).toFixed(1),
    max: +(reportLatency.at(-1) ?? 0).toFixed(1),
  },
  newRevision: {
    applyMs: Math.round(applyMs),
    sitesReached: reachedAt.length,
    p50Ms: Math.round(percentile(reachedAt, 50)),
    allMs: Math.round(reachedAt.at(-1) ?? Number.NaN),
  },
  errors,
  hubCpuPercentOfOneCore: cpu1.map((c, i) => +((100 * (c - cpu0[i]!)) / elapsed).toFixed(1)),
  postgresCpuPercentOfOneCore: +((100 * (pgCpu1 - pgCpu0)) / elapsed).toFixed(1),
  hubRssMiB: rss.map((r) => Math.round(r)),
  databaseMiB: +(Number(dbSize) / 1024 / 1024).toFixed(1),
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
    name: `${fleet}-last-site-s`,
    // a site the revision never reached leaves the figure undefined, not the last one that it reached
    value: reachedAt.length >= sites ? result.newRevision.allMs / 1000 : Number.NaN,
    unit: 's',
    ...(atTarget ? { target: 3, op: '<' as const } : {}),
  },
]);
