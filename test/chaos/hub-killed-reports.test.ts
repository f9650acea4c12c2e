// Chaos: the hub process is SIGKILLed in the middle of a burst of 10,000 reports from 50 sites. On
// restart every report the hub acknowledged is there (a replay of it is refused as one, the deployment
// row holds what it said), and the sites' outboxes, resending what was not acknowledged, finish the burst.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { SiteDetail } from '../../src/model/wire.ts';
import type { Site } from '../support/hub-server.ts';
import { enrollSites, type KillableHub, reconnect, recordChaos, startKillableHub } from './support.ts';

const siteCount = 50;
const reportsPerSite = 200;

type ReportAck = { accepted: boolean; lastSeq: number };
/** the hub is killed once this share of the burst has been acknowledged */
const killAt = 0.4;

let hub: KillableHub | undefined;
after(async () => {
  await hub?.stop();
  if (hub) await rm(hub.dataDir, { recursive: true, force: true });
});

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
        message: `report ${seq}`,
        counts: { total: 1, applied: 1, ready: 1 },
      },
    ],
  };
}

test('a hub killed during a burst of 10,000 reports loses none it acknowledged', {
  timeout: 600_000,
}, async () => {
  hub = await startKillableHub();
  assert.equal((await hub.operator.request('POST', '/api/v1/bundles/apply', { body: bundle })).status, 200);
  let sites: Site[] = await enrollSites(hub, 'burst', siteCount);
  const desired = await sites[0]!.call('GET', '/agent/v1/sites/:site/desired');
  const digest = (desired.body as { deployments: { digest: string }[] }).deployments[0]!.digest;

  // each site sends its reports in order, the next once the last is acknowledged, as the agent's outbox does
  const acked = new Map<string, number>(sites.map((s) => [s.siteId, 0]));
  let ackedTotal = 0;
  let failedInFlight = 0;
  let killed: Promise<void> | undefined;
  const killStarted = { at: 0 };
  const burst = async (site: Site) => {
    for (let seq = acked.get(site.siteId)! + 1; seq <= reportsPerSite; seq++) {
      try {
        const r = await site.call('POST', '/agent/v1/sites/:site/report', report(seq, digest));
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal((r.body as ReportAck).accepted, true);
        acked.set(site.siteId, seq);
        if (++ackedTotal >= killAt * siteCount * reportsPerSite && !killed) {
          killStarted.at = performance.now();
          killed = hub!.kill();
        }
      } catch (e) {
        if (!killed) throw e;
        failedInFlight++;
        return;
      }
    }
  };
  const burstStart = performance.now();
  await Promise.all(sites.map(burst));
  await killed;
  const ackedBeforeKill = ackedTotal;
  const burstSeconds = (killStarted.at - burstStart) / 1000;

  const restartStart = performance.now();
  hub = await startKillableHub(hub);
  const restartMs = Math.round(performance.now() - restartStart);
  sites = reconnect(sites, hub);

  // the last acknowledged report of each site, sent again, is a replay: the hub has it
  let lost = 0;
  let committedUnacknowledged = 0;
  let rowsBehind = 0;
  for (const site of sites) {
    const last = acked.get(site.siteId)!;
    const r = await site.call('POST', '/agent/v1/sites/:site/report', report(last, digest));
    const ack = r.body as ReportAck;
    assert.equal(r.status, 200);
    if (ack.accepted || ack.lastSeq < last) lost++;
    // a report in flight when the hub died may have been committed without its answer reaching the site
    if (ack.lastSeq > last) committedUnacknowledged += ack.lastSeq - last;
    const detail = (await hub.operator.request('GET', `/api/v1/sites/${site.name}`)).body as SiteDetail;
    if (detail.deployments[0]?.message !== `report ${ack.lastSeq}`) rowsBehind++;
  }

  // the outboxes resend what was not acknowledged; a report the hub already has is answered as a replay
  let replays = 0;
  await Promise.all(
    sites.map(async (site) => {
      for (let seq = acked.get(site.siteId)! + 1; seq <= reportsPerSite; seq++) {
        const r = await site.call('POST', '/agent/v1/sites/:site/report', report(seq, digest));
        assert.equal(r.status, 200, JSON.stringify(r.body));
        if (!(r.body as ReportAck).accepted) replays++;
      }
    }),
  );
  let complete = 0;
  for (const site of sites) {
    const detail = (await hub.operator.request('GET', `/api/v1/sites/${site.name}`)).body as SiteDetail;
    if (detail.deployments[0]?.message === `report ${reportsPerSite}`) complete++;
    site.http.close();
  }

  await recordChaos({
    scenario: 'hub-killed-reports',
    checked: `hub SIGKILLed after ${ackedBeforeKill.toLocaleString('en')} of ${(siteCount * reportsPerSite).toLocaleString('en')} reports from ${siteCount} sites were acknowledged; after restart each site's last acknowledged report is a replay and its deployment row says what that report said; the rest of the burst, resent, completes every site`,
    figures: [
      { name: 'reports', value: siteCount * reportsPerSite, unit: 'reports' },
      { name: 'acknowledged-before-kill', value: ackedBeforeKill, unit: 'reports' },
      { name: 'failed-at-kill', value: failedInFlight, unit: 'requests' },
      { name: 'lost-acknowledged', value: lost, unit: 'reports', op: '<=', target: 0 },
      { name: 'deployment-rows-behind', value: rowsBehind, unit: 'sites', op: '<=', target: 0 },
      { name: 'committed-unacknowledged', value: committedUnacknowledged, unit: 'reports' },
      {
        name: 'replays-after-restart',
        value: replays,
        unit: 'reports',
      },
      { name: 'sites-complete', value: complete, unit: 'sites', op: '>=', target: siteCount },
      {
        name: 'report-rate-before-kill',
        value: Math.round(ackedBeforeKill / burstSeconds),
        unit: 'reports/s',
      },
      { name: 'restart-ms', value: restartMs, unit: 'ms' },
    ],
  });
  assert.equal(lost, 0, 'every acknowledged report survives the kill');
  assert.equal(rowsBehind, 0, "each deployment row holds its site's last report");
  assert.equal(replays, committedUnacknowledged, 'what was committed unacknowledged is answered as a replay');
  assert.equal(complete, siteCount, 'every site finishes its burst');
});
