// Chaos: the PostgreSQL under a hub stops at once (pg_ctl -m immediate, as a crash would) while sites
// report, and comes back seconds later. Agents get 503 unavailable meanwhile (never a 4xx), the hub's pool
// reconnects without a restart, and every report it acknowledged before the crash is still there.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import type { JsonResponse } from '../../src/net/http-client.ts';
import type { Site } from '../support/hub-server.ts';
import { withoutPostgres } from '../support/postgres.ts';
import { enrollSites, type KillableHub, recordChaos, startKillableHub } from './support.ts';

const fixture = resolve(import.meta.dirname, '../../scripts/postgres-fixture.sh');
const siteCount = 10;
/** reports acknowledged before the crash, and by each site after PostgreSQL is back */
const ackedBeforeCrash = 300;
const ackedPerSiteAfter = 20;
const outageMs = 5_000;

type ReportAck = { accepted: boolean; lastSeq: number };

let clusterDir: string | undefined;
let hub: KillableHub | undefined;
let pgCtl: ((...args: string[]) => void) | undefined;
after(async () => {
  await hub?.stop();
  if (hub) await rm(hub.dataDir, { recursive: true, force: true });
  try {
    pgCtl?.('stop', '-m', 'immediate');
  } catch {
    // already stopped
  }
  if (clusterDir) await rm(clusterDir, { recursive: true, force: true });
  // the fixture script locks the cluster with a file beside its directory
  if (clusterDir) await rm(`${clusterDir}.lock`, { force: true });
});

/**
 * A throwaway cluster of its own (the fixture script on another directory), so that stopping it
 * disturbs no other test using the shared one; returns its URL and its pg_ctl.
 */
async function ownCluster(dir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, OUTPOST_POSTGRES_DIR: dir };
  delete env.OUTPOST_TEST_POSTGRES;
  const url = execFileSync('bash', [fixture], { env, encoding: 'utf8' }).trim();
  const versions = (await readdir('/usr/lib/postgresql')).sort((a, b) => Number(a) - Number(b));
  const pgCtlBin = `/usr/lib/postgresql/${versions.at(-1)}/bin/pg_ctl`;
  const asOwner = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  const ctl = (...args: string[]) => {
    const [command, ...rest] = [
      ...asOwner,
      pgCtlBin,
      '-D',
      join(dir, 'data'),
      '-l',
      join(dir, 'log'),
      '-w',
      ...args,
    ];
    execFileSync(command!, rest, { stdio: 'ignore' });
  };
  return { url, ctl };
}

const bundle = {
  files: [
    {
      path: 'pos.yaml',
      content:
        'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: pos}\nspec: {placement: {selector: {}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: till, namespace: pos}\ndata: {a: "1"}\n',
    },
  ],
};

const report = (seq: number, digest: string) => ({
  seq,
  deployments: [
    {
      bundle: 'pos',
      digest,
      state: 'Ready',
      message: `report ${seq}`,
      counts: { total: 1, applied: 1, ready: 1 },
    },
  ],
});

test('a hub whose PostgreSQL crashes and comes back answers 503 meanwhile and loses no acknowledged report', {
  skip: withoutPostgres,
  timeout: 300_000,
}, async () => {
  clusterDir = await mkdtemp(join(tmpdir(), 'outpost-chaos-pg-'));
  const cluster = await ownCluster(clusterDir);
  pgCtl = cluster.ctl;
  hub = await startKillableHub(undefined, { args: ['--database', cluster.url] });
  assert.equal((await hub.operator.request('POST', '/api/v1/bundles/apply', { body: bundle })).status, 200);
  const sites: Site[] = await enrollSites(hub, 'pg', siteCount);
  const desired = await sites[0]!.call('GET', '/agent/v1/sites/:site/desired');
  const digest = (desired.body as { deployments: { digest: string }[] }).deployments[0]!.digest;

  // each site sends its next report once the last is acknowledged, and after a refusal waits a little,
  // as the agent's outbox does; the phases say what the answers are counted as
  const acked = new Map<string, number>(sites.map((s) => [s.siteId, 0]));
  let ackedTotal = 0;
  let phase: 'before' | 'outage' | 'after' = 'before';
  const answers = {
    before: new Map<number, number>(),
    outage: new Map<number, number>(),
    after: new Map<number, number>(),
  };
  const codes = new Set<string>();
  let retryAfterMissing = 0;
  let crashed: () => void = () => {};
  const crash = new Promise<void>((r) => {
    crashed = r;
  });
  let firstAckAfterStart = 0;
  let restartedAt = 0;
  let stop = false;
  const load = async (site: Site) => {
    while (!stop) {
      const seq = acked.get(site.siteId)! + 1;
      const r: JsonResponse = await site
        .call('POST', '/agent/v1/sites/:site/report', report(seq, digest))
        .catch(() => ({ status: 0, body: {}, headers: {} }));
      const counted = answers[phase];
      counted.set(r.status, (counted.get(r.status) ?? 0) + 1);
      if (r.status === 200 && (r.body as ReportAck).accepted) {
        acked.set(site.siteId, seq);
        if (++ackedTotal === ackedBeforeCrash) crashed();
        if (phase === 'after' && !firstAckAfterStart) firstAckAfterStart = performance.now() - restartedAt;
        if (phase === 'after' && [...acked.values()].every((a) => a >= ackedAtStart + ackedPerSiteAfter))
          stop = true;
        continue;
      }
      if (r.status >= 500) {
        codes.add((r.body as { error?: { code?: string } }).error?.code ?? '(no code)');
        if (r.status === 503 && !r.headers['retry-after']) retryAfterMissing++;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  let ackedAtStart = Number.POSITIVE_INFINITY;
  const running = Promise.all(sites.map(load));
  await crash;
  const ackedAtCrash = new Map(acked);
  phase = 'outage';
  cluster.ctl('stop', '-m', 'immediate');
  await new Promise((r) => setTimeout(r, outageMs));
  ackedAtStart = Math.max(...acked.values());
  restartedAt = performance.now();
  phase = 'after';
  cluster.ctl('start');
  const startMs = Math.round(performance.now() - restartedAt);
  const guard = setTimeout(() => {
    stop = true;
  }, 120_000);
  await running;
  clearTimeout(guard);
  const hubUp = hub.running();

  // every acknowledged report is there: the last one of each site, sent again, is a replay
  let lost = 0;
  let behindCrash = 0;
  for (const site of sites) {
    const last = acked.get(site.siteId)!;
    const r = await site.call('POST', '/agent/v1/sites/:site/report', report(last, digest));
    const ack = r.body as ReportAck;
    if (ack.accepted || ack.lastSeq < last) lost++;
    if (ack.lastSeq < ackedAtCrash.get(site.siteId)!) behindCrash++;
    site.http.close();
  }
  const sum = (m: Map<number, number>, keep: (s: number) => boolean) =>
    [...m].filter(([s]) => keep(s)).reduce((n, [, c]) => n + c, 0);
  const outage5xx = sum(answers.outage, (s) => s >= 500);
  const any4xx =
    sum(answers.outage, (s) => s >= 400 && s < 500) + sum(answers.after, (s) => s >= 400 && s < 500);
  const sitesDone = [...acked.values()].filter((a) => a >= ackedAtStart + ackedPerSiteAfter).length;
  const shown = (m: Map<number, number>) => [...m].map(([s, c]) => `${c} × ${s || 'no answer'}`).join(', ');

  await recordChaos({
    scenario: 'postgres-restart',
    checked: `a hub on its own PostgreSQL cluster; after ${ackedBeforeCrash} acknowledged reports from ${siteCount} sites PostgreSQL stops at once (pg_ctl -m immediate) for ${outageMs / 1000} s and starts again, the hub untouched; answers during the outage (${shown(answers.outage)}; codes ${[...codes].join(', ') || 'none'}) and after (${shown(answers.after)}), then each site's last acknowledged report sent again must be a replay`,
    figures: [
      { name: 'acknowledged-before-crash', value: ackedBeforeCrash, unit: 'reports' },
      { name: 'refused-5xx-during-outage', value: outage5xx, unit: 'reports', op: '>=', target: 1 },
      { name: 'refused-4xx', value: any4xx, unit: 'reports', op: '<=', target: 0 },
      { name: '503-without-retry-after', value: retryAfterMissing, unit: 'answers', op: '<=', target: 0 },
      { name: 'postgres-start-ms', value: startMs, unit: 'ms' },
      { name: 'first-ack-after-start-ms', value: Math.round(firstAckAfterStart), unit: 'ms' },
      { name: 'sites-reporting-again', value: sitesDone, unit: 'sites', op: '>=', target: siteCount },
      { name: 'lost-acknowledged', value: lost + behindCrash, unit: 'reports', op: '<=', target: 0 },
      { name: 'hub-exited', value: hubUp ? 0 : 1, unit: 'processes', op: '<=', target: 0 },
    ],
  });
  assert.ok(hubUp, 'the hub survives its database going away');
  assert.ok(outage5xx > 0, 'reports during the outage are refused with a 5xx');
  assert.equal(any4xx, 0, 'an outage is never a 4xx: the agent would drop the report');
  assert.deepEqual([...codes], ['unavailable'], 'the refusal says the store is unavailable');
  assert.equal(retryAfterMissing, 0);
  assert.equal(sitesDone, siteCount, 'the pool recovers: every site reports again');
  assert.equal(lost + behindCrash, 0, 'no acknowledged report is lost');
});
