// Chaos: the hub process is SIGKILLed while a rollout's second wave is moving sites. On restart the
// rollout carries on from its stored state to Succeeded: every decision (a wave started, the rollout
// succeeded) is made once, and every site moves to the new revision once and never back.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { EventList, RolloutDetail } from '../../src/model/wire.ts';
import type { Site } from '../support/hub-server.ts';
import { enrollSites, type KillableHub, recordChaos, startKillableHub } from './support.ts';

const siteCount = 30;
const strategy =
  "{waves: [{name: canary, percent: 10}, {name: half, percent: 50}, {name: rest, percent: 100}], maxConcurrent: '100%', maxFailures: '10%', bakeSeconds: 3, onFailure: pause}";

let hub: KillableHub | undefined;
const stopSites = new AbortController();
after(async () => {
  stopSites.abort();
  await hub?.stop();
  if (hub) await rm(hub.dataDir, { recursive: true, force: true });
});

function posBundle(value: string, rollout?: string) {
  const spec = rollout ? `{placement: {selector: {}}, rollout: ${rollout}}` : '{placement: {selector: {}}}';
  return {
    files: [
      {
        path: 'pos.yaml',
        content: `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: pos}\nspec: ${spec}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: till, namespace: pos}\ndata: {a: "${value}"}\n`,
      },
    ],
  };
}

/**
 * A site as its agent behaves at the protocol level: it reads its desired state every 300 ms, "applies"
 * it at once and reports the digest it runs Ready, and keeps going through the hub's death. It records
 * every change of its desired digest.
 */
async function runSite(site: Site, digests: string[], signal: AbortSignal): Promise<void> {
  let seq = 0;
  while (!signal.aborted) {
    try {
      const r = await site.call('GET', '/agent/v1/sites/:site/desired');
      const digest = (r.body as { deployments?: { digest: string }[] }).deployments?.[0]?.digest;
      if (r.status === 200 && digest) {
        if (digests.at(-1) !== digest) digests.push(digest);
        await site.call('POST', '/agent/v1/sites/:site/report', {
          seq: ++seq,
          deployments: [
            {
              bundle: 'pos',
              digest,
              state: 'Ready',
              message: '',
              counts: { total: 1, applied: 1, ready: 1 },
            },
          ],
        });
      }
    } catch {
      // the hub is down: the agent keeps its last desired state and tries again
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function rollout(id: string): Promise<RolloutDetail> {
  return (await hub!.operator.request('GET', `/api/v1/rollouts/${id}`)).body as RolloutDetail;
}

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a hub killed during a rollout wave makes no decision twice', { timeout: 600_000 }, async () => {
  hub = await startKillableHub();
  assert.equal(
    (await hub.operator.request('POST', '/api/v1/bundles/apply', { body: posBundle('1') })).status,
    200,
  );
  const sites = await enrollSites(hub, 'wave', siteCount);
  const seen = new Map(sites.map((s) => [s.name, [] as string[]]));
  const running = sites.map((s) => runSite(s, seen.get(s.name)!, stopSites.signal));
  await until('every site on revision 1', 60, async () =>
    [...seen.values()].every((d) => d.length === 1) ? true : undefined,
  );

  const applied = await hub.operator.request('POST', '/api/v1/bundles/apply', {
    body: posBundle('2', strategy),
  });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  const id = (applied.body as { rollout?: string }).rollout;
  assert.ok(id, 'the new revision starts a rollout');

  // killed once the second wave has started moving sites, before it is done
  const during = await until('the second wave under way', 120, async () => {
    const d = await rollout(id);
    const half = d.waves[1]!;
    const moved = (half.statuses.Updating ?? 0) + (half.statuses.Updated ?? 0);
    return moved > 0 && (half.statuses.Updated ?? 0) < half.sites ? d : undefined;
  });
  await hub.kill();
  const killedAt = performance.now();
  hub = await startKillableHub(hub);
  const restartMs = Math.round(performance.now() - killedAt);
  const done = await until('the rollout to finish', 180, async () => {
    const d = await rollout(id);
    return d.phase === 'Succeeded' || d.phase === 'Failed' || d.phase === 'Paused' ? d : undefined;
  });
  const finishedAfterRestart = Math.round((performance.now() - killedAt) / 1000);
  await new Promise((r) => setTimeout(r, 1000));
  stopSites.abort();
  await Promise.all(running);
  for (const s of sites) s.http.close();

  const events: EventList['items'] = [];
  for (let after = 0; ; ) {
    const page = (await hub.operator.request('GET', `/api/v1/events?after=${after}&limit=1000`))
      .body as EventList;
    events.push(...page.items);
    if (page.items.length === 0) break;
    after = page.lastId;
  }
  // the only rollout of the bundle, so every rollout event of it is one of this rollout's decisions
  const decisions = events.filter((e) => e.bundle === 'pos' && /^(wave_started|rollout_)/.test(e.type));
  // SitesUpdated is a tally of the sites that turned Ready since the last tick, so a wave may have several;
  // they must add up to the fleet once, not more (a site counted again after the restart)
  const tallies = decisions.filter((e) => e.details.kind === 'SitesUpdated');
  const countedUpdated = tallies.reduce(
    (n, e) => n + Number(/: (\d+) sites? of /.exec(e.message)?.[1] ?? 0),
    0,
  );
  // a decision is its kind (WaveStarted, WaveCompleted, SiteFailed, RolloutSucceeded…), wave and site
  const keys = decisions
    .filter((e) => e.details.kind !== 'SitesUpdated')
    .map(
      (e) =>
        `${e.type}/${String(e.details.kind ?? '')} wave ${String(e.details.wave ?? '-')} ${e.site ?? ''}`,
    );
  const duplicated = keys.length - new Set(keys).size;
  // the first wave starts with the rollout; each later one with a wave_started
  const wavesStarted = decisions.filter(
    (e) => e.type === 'rollout_started' || e.type === 'wave_started',
  ).length;
  const newDigest = [...seen.values()].map((d) => d.at(-1));
  const movedTwice = [...seen.values()].filter((d) => d.length !== 2).length;

  await recordChaos({
    scenario: 'hub-killed-rollout',
    checked: `hub SIGKILLed during wave "${during.waves[1]!.name}" of a 3-wave rollout over ${siteCount} protocol-level sites (bake 3 s); after restart the rollout finishes from its stored state; the event log holds each decision once and each site's desired digest changed once, old to new`,
    figures: [
      { name: 'sites', value: siteCount, unit: 'sites' },
      { name: 'waves-started', value: wavesStarted, unit: 'waves', op: '>=', target: 3 },
      { name: 'decisions-made-twice', value: duplicated, unit: 'decisions', op: '<=', target: 0 },
      { name: 'sites-moved-not-once', value: movedTwice, unit: 'sites', op: '<=', target: 0 },
      { name: 'sites-counted-updated', value: countedUpdated, unit: 'sites', op: '<=', target: siteCount },
      { name: 'restart-ms', value: restartMs, unit: 'ms' },
      { name: 'succeeded-after-kill-s', value: finishedAfterRestart, unit: 's' },
    ],
  });
  assert.equal(done.phase, 'Succeeded', JSON.stringify(done));
  assert.equal(wavesStarted, 3, keys.join('\n'));
  assert.equal(duplicated, 0, keys.join('\n'));
  assert.equal(movedTwice, 0, JSON.stringify([...seen.values()]));
  assert.equal(countedUpdated, siteCount, 'each site is counted Ready on the new revision once');
  assert.equal(new Set(newDigest).size, 1, 'every site runs the one new digest');
});
