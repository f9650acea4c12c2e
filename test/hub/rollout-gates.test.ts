// Rollout metric gates fed by telemetry: sites post SLIs over real mTLS, the controller measures each
// site's error rate since it got the new revision, and a canary that errors fails its gate and rolls the
// rollout back — while a site without data is "no data", never a pass. GET /api/v1/rollouts/:id shows each
// gate evaluated now (observed, baseline, verdict) as the controller judges it.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { tickRollouts } from '../../src/hub/rollout/controller.ts';
import type { TelemetrySample } from '../../src/model/telemetry.ts';
import { bundleFile } from '../support/fleet.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

const minute = 60_000;
let hub: HubServer;
after(() => hub?.close());

const configMap = (version: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'app', namespace: 'default' },
  data: { version },
});

async function apply(version: string, rollout?: Record<string, unknown>) {
  const r = await hub.operator(
    'POST',
    '/api/v1/bundles/apply',
    bundleFile('app', { matchLabels: { app: 'yes' } }, [configMap(version)], rollout ? { rollout } : {}),
  );
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as { revision: number; rollout?: string };
}

async function desiredOf(site: Site) {
  const r = await site.call('GET', '/agent/v1/sites/:site/desired');
  assert.equal(r.status, 200);
  return (
    r.body as { deployments: Array<{ bundle: string; revision: number; digest: string }> }
  ).deployments.find((d) => d.bundle === 'app');
}

/** Every site reports Ready for whatever it is told to run. */
async function reportReady(sites: readonly Site[], seq: Map<string, number>) {
  for (const site of sites) {
    const d = await desiredOf(site);
    if (!d) continue;
    const next = (seq.get(site.siteId) ?? 0) + 1;
    seq.set(site.siteId, next);
    const r = await site.call('POST', '/agent/v1/sites/:site/report', {
      seq: next,
      deployments: [
        { bundle: 'app', digest: d.digest, state: 'Ready', counts: { total: 1, applied: 1, ready: 1 } },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
}

let batches = 0;
async function postTraffic(site: Site, t: number, requests: number, errors: number) {
  const samples: TelemetrySample[] = [
    { class: 'sli', name: 'requests_total', bundle: 'app', t, d: minute, v: requests },
    { class: 'sli', name: 'errors_total', bundle: 'app', t, d: minute, v: errors },
  ];
  const r = await site.call('POST', '/agent/v1/sites/:site/telemetry', {
    batchId: `b-${++batches}`,
    samples,
    events: [],
    dropped: { sli: 0, event: 0, metric: 0, debug: 0 },
  });
  assert.deepEqual(r.body, { accepted: true });
}

/** Each gate of a rollout view as [gate, metric, op, threshold, result, observed, baseline]. */
function gateView(detail: { gates: Array<Record<string, unknown>> }) {
  return detail.gates.map((g) => [g.gate, g.metric, g.op, g.threshold, g.result, g.observed, g.baseline]);
}

test('a canary whose error rate breaks its gate fails it and the rollout rolls back; the view shows the gate as judged', async () => {
  hub = await startHubServer({
    connectivity: { sweepIntervalMs: 0 },
    rollouts: { tickIntervalMs: 0 },
    alerts: { intervalMs: 0 },
  });
  const sites: Site[] = [];
  for (let i = 0; i < 4; i++) sites.push(await hub.enroll(`gate-${i}`, { app: 'yes' }));
  const seq = new Map<string, number>();
  await apply('v1');
  await reportReady(sites, seq);
  // on v1 every site serves 1,000 requests a minute with 1% errors
  const now = () => hub.clock.now().getTime();
  for (const site of sites) await postTraffic(site, now() - minute, 1000, 10);

  const { rollout } = await apply('v2', {
    waves: [
      { name: 'canary', count: 1 },
      { name: 'rest', percent: 100 },
    ],
    maxConcurrent: 1,
    bakeSeconds: 600,
    onFailure: 'rollback',
    gates: [{ metric: 'error_rate', op: '<', threshold: 0.05, compareToBaseline: { maxRatio: 3 } }],
    noData: { policy: 'wait', maxWaitSeconds: 3600 },
  });
  assert.ok(rollout);
  await tickRollouts(hub.ctx);
  const rows = () =>
    hub.ctx.store.db.selectFrom('rollout_sites').selectAll().where('rollout_id', '=', rollout).execute();
  const canaryRow = (await rows()).find((r) => r.started_at !== null);
  assert.ok(canaryRow, 'the canary started');
  assert.deepEqual(JSON.parse(canaryRow.baseline ?? 'null'), { error_rate: 0.01 }, 'baseline measured on v1');
  const canary = sites.find((s) => s.siteId === canaryRow.site_id)!;
  await reportReady([canary], seq);

  // Ready, but no SLIs since it started: the gate has no data, so the canary wave holds
  hub.clock.advance(6 * minute);
  await tickRollouts(hub.ctx);
  let detail = (await hub.operator('GET', `/api/v1/rollouts/${rollout}`)).json();
  assert.equal(detail.wave, 'canary');
  assert.equal(detail.phase, 'Progressing', detail.reason);
  const state = await hub.ctx.store.db
    .selectFrom('rollouts')
    .select('state')
    .where('id', '=', rollout)
    .executeTakeFirstOrThrow();
  assert.ok(JSON.parse(state.state).noDataSince, 'the gates answered no data');
  // the view says the same: no data, no observed value made up
  assert.deepEqual(gateView(detail), [
    ['error_rate', 'error_rate', '<', 0.05, 'no-data', undefined, undefined],
  ]);
  assert.match(detail.gates[0].reason, /no updated site has a usable error_rate value/);

  // on v2 the canary errs on 2% of its requests: under 0.05 and within 3× its own 1% from before → pass
  await postTraffic(canary, now(), 1000, 20);
  detail = (await hub.operator('GET', `/api/v1/rollouts/${rollout}`)).json();
  assert.deepEqual(gateView(detail), [['error_rate', 'error_rate', '<', 0.05, 'pass', 0.02, 0.01]]);
  assert.match(detail.gates[0].reason, /against a baseline of 0.01: within bounds/);
  await tickRollouts(hub.ctx);
  detail = (await hub.operator('GET', `/api/v1/rollouts/${rollout}`)).json();
  assert.equal(detail.phase, 'Baking', `the controller agreed the gate passed: ${detail.reason}`);

  // then it fails 400 of the next 1,000: 420 of 2,000 since it started is 0.21 ≥ 0.05 → fail (the view
  // shows it at once, before the controller's next tick), and the controller rolls back
  await postTraffic(canary, now(), 1000, 400);
  const viewer = await hub.tokenFor('viewer');
  detail = (await hub.operator('GET', `/api/v1/rollouts/${rollout}`, undefined, viewer)).json();
  assert.deepEqual(gateView(detail), [['error_rate', 'error_rate', '<', 0.05, 'fail', 0.21, undefined]]);
  assert.match(detail.gates[0].reason, /worst error_rate over 1 updated site is 0.21, not < 0.05/);
  await tickRollouts(hub.ctx);
  await tickRollouts(hub.ctx);
  detail = (await hub.operator('GET', `/api/v1/rollouts/${rollout}`)).json();
  assert.ok(['RollingBack', 'Failed'].includes(detail.phase), `${detail.phase}: ${detail.reason}`);
  assert.match(detail.reason ?? '', /error_rate/);
  for (const site of sites) assert.equal((await desiredOf(site))?.revision, 1, site.name);
  const types = (
    await hub.ctx.store.db.selectFrom('events').select('type').where('bundle', '=', 'app').execute()
  ).map((e) => e.type);
  assert.ok(types.includes('rollout_rolling_back'), types.join(','));
});
