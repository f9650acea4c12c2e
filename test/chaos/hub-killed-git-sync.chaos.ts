// Chaos: the hub process is SIGKILLed while it syncs a new commit of a real git repository (100 bundles
// changed, one removed or added), at several points of the sync. On restart the commit is there whole
// or not at all, in the store and in every site's desired state, and the next sync completes it.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { SourceView, SyncResult } from '../../src/model/fleet-wire.ts';
import type { DesiredState } from '../../src/model/wire.ts';
import { createRepo, type GitServer, startGitServer, tempDir } from '../support/git-server.ts';
import type { Site } from '../support/hub-server.ts';
import { enrollSites, type KillableHub, reconnect, recordChaos, startKillableHub } from './support.ts';

const bundleCount = 100;
const siteCount = 5;
/** where in a sync (as a share of how long the first one took) each round kills the hub */
const killPoints = [0.15, 0.4, 0.7, 0.95];

let hub: KillableHub | undefined;
let git: GitServer | undefined;
let work: { remove(): Promise<void> } | undefined;
after(async () => {
  await hub?.stop();
  if (hub) await rm(hub.dataDir, { recursive: true, force: true });
  await git?.close();
  await work?.remove();
});

/** Generation `g` of the fleet: every bundle's ConfigMaps say `g`; the extra bundle exists in even ones. */
function fleetAt(g: number): Record<string, string | null> {
  const files: Record<string, string | null> = {};
  for (let i = 0; i < bundleCount; i++) {
    files[`fleet/b-${i}/bundle.yaml`] = [
      `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: b-${i}}\nspec: {namespace: b-${i}, placement: {selector: {}}}`,
      ...[0, 1, 2].map(
        (k) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${k}}\ndata: {generation: "${g}"}`,
      ),
    ].join('\n---\n');
  }
  files['fleet/extra/bundle.yaml'] =
    g % 2 === 0
      ? 'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: extra}\nspec: {namespace: extra, placement: {selector: {}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: "1"}'
      : null;
  return files;
}

/**
 * What a site is served matches generation `g` whole: every b-* bundle at revision g + 1 (each
 * generation changes each once) and the extra bundle present exactly when `g` is even.
 */
function servesWhole(desired: DesiredState, g: number): boolean {
  const bs = desired.deployments.filter((d) => d.bundle.startsWith('b-'));
  const extra = desired.deployments.some((d) => d.bundle === 'extra');
  return bs.length === bundleCount && bs.every((d) => d.revision === g + 1) && extra === (g % 2 === 0);
}

async function until(seconds: number, probe: () => Promise<boolean>): Promise<boolean> {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

test('a hub killed during a git sync keeps the commit whole or not at all, and the next sync completes it', {
  timeout: 900_000,
}, async () => {
  const dir = await tempDir('outpost-chaos-git-');
  work = dir;
  const repo = await createRepo(dir.dir, 'fleet.git');
  git = await startGitServer(dir.dir);
  const commits: string[] = [await repo.commit('generation 0', fleetAt(0))];

  hub = await startKillableHub();
  let sites: Site[] = await enrollSites(hub, 'git', siteCount);
  const added = await hub.operator.request('POST', '/api/v1/sources', {
    body: { name: 'fleet', url: git.url('fleet.git'), ref: 'main', path: 'fleet', intervalSeconds: 3600 },
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const first = await hub.operator.request('POST', '/api/v1/sources/fleet/sync');
  assert.equal((first.body as SyncResult).status, 'synced', JSON.stringify(first.body));
  const desiredOf = async (site: Site) =>
    (await site.call('GET', '/agent/v1/sites/:site/desired')).body as DesiredState;
  const allServe = (g: number) =>
    until(120, async () => (await Promise.all(sites.map(desiredOf))).every((d) => servesWhole(d, g)));
  assert.ok(await allServe(0), 'every site is served generation 0');
  // the kill points are shares of a sync like the ones killed: every bundle changed, none new
  commits.push(await repo.commit('generation 1', fleetAt(1)));
  const syncStart = performance.now();
  const warm = await hub.operator.request('POST', '/api/v1/sources/fleet/sync');
  const syncMs = performance.now() - syncStart;
  assert.equal((warm.body as SyncResult).status, 'synced', JSON.stringify(warm.body));
  assert.ok(await allServe(1), 'every site is served generation 1');

  const rounds: {
    killAtMs: number;
    answeredFirst: boolean;
    kept: 'old' | 'new' | 'neither';
    halfServed: number;
    completed: boolean;
  }[] = [];
  let restartMs = 0;
  for (const [i, point] of killPoints.entries()) {
    const g = i + 2;
    commits.push(await repo.commit(`generation ${g}`, fleetAt(g)));
    const killAtMs = Math.round(syncMs * point);
    const sync = hub.operator.request('POST', '/api/v1/sources/fleet/sync').catch(() => undefined);
    await new Promise((r) => setTimeout(r, killAtMs));
    await hub.kill();
    // a sync quicker than the measured one is answered before the kill: the round still checks the restart
    const answeredFirst = (await sync)?.status === 200;

    const restartStart = performance.now();
    hub = await startKillableHub(hub);
    restartMs = Math.max(restartMs, Math.round(performance.now() - restartStart));
    sites = reconnect(sites, hub);
    const view = (await hub.operator.request('GET', '/api/v1/sources/fleet')).body as SourceView;
    const synced = commits.indexOf(view.synced?.commit ?? '');
    const kept = synced === g ? 'new' : synced === g - 1 ? 'old' : 'neither';
    // placement interrupted by the kill resumes by itself: every site comes to serve the synced generation
    await allServe(synced);
    const served = await Promise.all(sites.map(desiredOf));
    const halfServed = served.filter((d) => !servesWhole(d, synced)).length;

    const next = await hub.operator.request('POST', '/api/v1/sources/fleet/sync');
    const status = (next.body as SyncResult).status;
    const completed = (status === 'synced' || status === 'unchanged') && (await allServe(g));
    rounds.push({ killAtMs, answeredFirst, kept, halfServed, completed });
  }
  for (const s of sites) s.http.close();

  const count = (f: (r: (typeof rounds)[number]) => boolean) => rounds.filter(f).length;
  await recordChaos({
    scenario: 'hub-killed-git-sync',
    checked: `hub SIGKILLed ${rounds.length} times while syncing a new commit of a git repository served by git http-backend (${bundleCount} bundles of 3 ConfigMaps changed, one bundle removed or added), ${rounds.map((r) => `${r.killAtMs} ms`).join(', ')} into a sync that took ${Math.round(syncMs)} ms when nothing was killed; after each restart the source's synced commit is the old or the new one, every one of ${siteCount} sites is served that commit whole (every bundle at its revision, the added or removed bundle matching), and the next sync completes the new commit (${rounds.map((r) => `round ${rounds.indexOf(r) + 1}: ${r.kept} commit kept`).join('; ')})`,
    figures: [
      { name: 'kills', value: rounds.length, unit: 'kills' },
      { name: 'kept-old-commit', value: count((r) => r.kept === 'old'), unit: 'kills' },
      { name: 'kept-new-commit', value: count((r) => r.kept === 'new'), unit: 'kills' },
      { name: 'sync-answered-before-kill', value: count((r) => r.answeredFirst), unit: 'kills' },
      {
        name: 'commit-neither',
        value: count((r) => r.kept === 'neither'),
        unit: 'kills',
        op: '<=',
        target: 0,
      },
      {
        name: 'sites-half-applied',
        value: rounds.reduce((n, r) => n + r.halfServed, 0),
        unit: 'sites',
        op: '<=',
        target: 0,
      },
      {
        name: 'next-sync-completed',
        value: count((r) => r.completed),
        unit: 'syncs',
        op: '>=',
        target: rounds.length,
      },
      { name: 'sync-ms', value: Math.round(syncMs), unit: 'ms' },
      { name: 'restart-ms', value: restartMs, unit: 'ms' },
    ],
  });
  for (const r of rounds) {
    assert.notEqual(r.kept, 'neither', 'the synced commit is the old or the new one');
    assert.equal(r.halfServed, 0, 'no site is served part of a commit');
    assert.ok(r.completed, 'the next sync completes the new commit');
  }
});
