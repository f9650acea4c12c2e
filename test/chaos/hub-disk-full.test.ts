// Chaos: the hub's data directory is a small tmpfs, and it fills up while sites report. Agents get a 5xx
// they retry (never a 4xx that would make them drop the report), the hub stays up, the SQLite file passes
// PRAGMA integrity_check, and once space is freed the same hub accepts the held reports without a person.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, statfs, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import type { Site } from '../support/hub-server.ts';
import { enrollSites, type KillableHub, recordChaos, startKillableHub } from './support.ts';

const siteCount = 10;
const tmpfsBytes = 64 * 1024 * 1024;
/** a report this large makes the database grow with each one, so a full disk shows within a few */
const padding = 'x'.repeat(2000);

type ReportAck = { accepted: boolean; lastSeq: number };

let mountPoint: string | undefined;
let mounted = false;
let hub: KillableHub | undefined;
after(async () => {
  await hub?.stop();
  // a lazy unmount when a process that failed the test still holds a file there
  if (mounted) execFileSync('umount', ['--lazy', mountPoint!]);
  if (mountPoint) await rm(mountPoint, { recursive: true, force: true });
});

/** Mounts a tmpfs of `bytes`; false when this process may not mount (not root, or no CAP_SYS_ADMIN). */
function mountTmpfs(dir: string, bytes: number): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Writes a file until the filesystem refuses with ENOSPC; returns its path. */
async function fillDisk(dir: string): Promise<string> {
  const path = join(dir, 'filler');
  const file = await open(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) await file.write(chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await file.close();
  }
  return path;
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

function report(seq: number, digest: string) {
  return {
    seq,
    deployments: [
      {
        bundle: 'pos',
        digest,
        state: 'Ready',
        message: `report ${seq} ${padding}`,
        counts: { total: 1, applied: 1, ready: 1 },
      },
    ],
  };
}

test('a hub whose disk fills answers 5xx, keeps its database whole and recovers once space is freed', {
  timeout: 300_000,
}, async (t) => {
  mountPoint = await mkdtemp(join(tmpdir(), 'outpost-chaos-disk-'));
  mounted = mountTmpfs(mountPoint, tmpfsBytes);
  if (!mounted) {
    t.skip('mounting a tmpfs needs root (CAP_SYS_ADMIN); this scenario runs only where it may');
    return;
  }
  const dataDir = join(mountPoint, 'hub');
  hub = await startKillableHub(undefined, { dataDir });
  assert.equal((await hub.operator.request('POST', '/api/v1/bundles/apply', { body: bundle })).status, 200);
  const sites: Site[] = await enrollSites(hub, 'full', siteCount);
  const desired = await sites[0]!.call('GET', '/agent/v1/sites/:site/desired');
  const digest = (desired.body as { deployments: { digest: string }[] }).deployments[0]!.digest;

  const acked = new Map<string, number>(sites.map((s) => [s.siteId, 0]));
  const send = async (site: Site, seq: number) => {
    const r = await site.call('POST', '/agent/v1/sites/:site/report', report(seq, digest));
    if (r.status === 200 && (r.body as ReportAck).accepted) acked.set(site.siteId, seq);
    return r;
  };
  for (const site of sites)
    for (let seq = 1; seq <= 5; seq++) assert.equal((await send(site, seq)).status, 200);

  const filler = await fillDisk(mountPoint);
  const free = await statfs(mountPoint);
  const freeBytesWhenFull = free.bavail * free.bsize;

  // each site keeps sending its next report, as its outbox would, until the hub refuses for a while
  const statuses = new Map<number, number>();
  const codes = new Set<string>();
  let attempts = 0;
  let refusedInARow = 0;
  const deadline = performance.now() + 60_000;
  while (refusedInARow < 3 * siteCount && performance.now() < deadline) {
    for (const site of sites) {
      attempts++;
      const r = await send(site, acked.get(site.siteId)! + 1);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200) refusedInARow = 0;
      else {
        refusedInARow++;
        codes.add((r.body as { error?: { code?: string } }).error?.code ?? '(no code)');
      }
    }
  }
  const refused = [...statuses].filter(([s]) => s !== 200).reduce((n, [, c]) => n + c, 0);
  const clientErrors = [...statuses].filter(([s]) => s >= 400 && s < 500).reduce((n, [, c]) => n + c, 0);
  const ackedWhileFull = attempts - refused;
  const hubUpWhileFull = hub.running();

  // space comes back: the same hub process takes the held reports, nobody restarts it
  await unlink(filler);
  const recoverStart = performance.now();
  let recovered = 0;
  for (const site of sites) {
    for (let tries = 0; ; tries++) {
      const r = await send(site, acked.get(site.siteId)! + 1);
      if (r.status === 200) break;
      if (tries > 50) throw new Error(`site ${site.name} still refused after space was freed: ${r.status}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    recovered++;
  }
  const recoverMs = Math.round(performance.now() - recoverStart);

  // every acknowledged report is there: sending the last one again is answered as a replay
  let lost = 0;
  for (const site of sites) {
    const last = acked.get(site.siteId)!;
    const r = await site.call('POST', '/agent/v1/sites/:site/report', report(last, digest));
    if ((r.body as ReportAck).accepted || (r.body as ReportAck).lastSeq < last) lost++;
    site.http.close();
  }

  await hub.stop();
  const db = new DatabaseSync(join(dataDir, 'hub.db'), { readOnly: true });
  const integrity = (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[])
    .map((r) => r.integrity_check)
    .join('; ');
  db.close();

  await recordChaos({
    scenario: 'hub-disk-full',
    checked: `the hub's data directory on a ${tmpfsBytes / 1024 / 1024} MiB tmpfs, filled by another file while ${siteCount} sites report; the answers while full (status and code), the hub process, PRAGMA integrity_check after, and the same hub taking the held reports once the file is deleted (${[...statuses].map(([s, c]) => `${c} × ${s}`).join(', ')}; codes: ${[...codes].join(', ') || 'none'})`,
    figures: [
      { name: 'free-bytes-when-full', value: freeBytesWhenFull, unit: 'bytes' },
      { name: 'reports-sent-while-full', value: attempts, unit: 'reports' },
      { name: 'acknowledged-while-full', value: ackedWhileFull, unit: 'reports' },
      { name: 'refused-5xx', value: refused - clientErrors, unit: 'reports', op: '>=', target: 1 },
      { name: 'refused-4xx', value: clientErrors, unit: 'reports', op: '<=', target: 0 },
      { name: 'hub-exited', value: hubUpWhileFull ? 0 : 1, unit: 'processes', op: '<=', target: 0 },
      {
        name: 'integrity-problems',
        value: integrity === 'ok' ? 0 : 1,
        unit: 'databases',
        op: '<=',
        target: 0,
      },
      { name: 'sites-recovered', value: recovered, unit: 'sites', op: '>=', target: siteCount },
      { name: 'recover-ms', value: recoverMs, unit: 'ms' },
      { name: 'lost-acknowledged', value: lost, unit: 'reports', op: '<=', target: 0 },
    ],
  });
  assert.ok(refused > 0, 'a full disk refuses reports');
  assert.equal(clientErrors, 0, 'a full disk is never a 4xx: the agent would drop the report');
  assert.deepEqual(
    [...codes],
    ['unavailable'],
    'the refusal says the hub is unavailable, not an internal error',
  );
  assert.ok(hubUpWhileFull, 'the hub stays up while its disk is full');
  assert.equal(integrity, 'ok');
  assert.equal(recovered, siteCount);
  assert.equal(lost, 0, 'every acknowledged report survives');
});
