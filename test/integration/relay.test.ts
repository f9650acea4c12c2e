// Regional relays on real parts: a hub, a relay in its own process (killed and restarted on its state
// directory), agents against a real kube-apiserver, and a network between relay and hub that is cut and
// healed. What the hub received is counted at its own report intake.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { type RunningHub, startHub } from '../../src/hub/start.ts';
import { decodeJoinToken, decodeRelayJoinToken } from '../../src/model/join-token.ts';
import type { DesiredState } from '../../src/model/wire.ts';
import { HttpClient } from '../../src/net/http-client.ts';
import { sha256Digest } from '../../src/render/digest.ts';
import { desiredDigest } from '../../src/render/rendered.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, type RunningAgent, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { enrollAt } from '../support/hub-server.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { type PartitionProxy, startPartitionProxy } from '../support/partition.ts';
import { freePort, type RelayProcess, startRelayProcess } from '../support/relay-process.ts';

let kube: KubeFixture;
let fleet: TestHub;
let uplink: PartitionProxy;
let relay: RelayProcess;
let relayPort: number;
let relayDir: string;
let westJoin: string;
/** the hub a test restarts; the fleet's own stop closes the first one */
let restartedHub: RunningHub | undefined;
const agents: RunningAgent[] = [];

const configMap = (name: string, v: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { v },
});

async function deploymentAt(site: string, bundle: string) {
  return (await fleet.api.site(site)).deployments.find((d) => d.bundle === bundle);
}

/** The relay's own mTLS client to the hub, as a compromised relay would hold it. */
async function relayClient(): Promise<HttpClient> {
  const id = JSON.parse(await readFile(join(relayDir, 'identity.json'), 'utf8'));
  return new HttpClient(fleet.hub.url, { ca: id.caPem, cert: id.clientCertPem, key: id.keyPem });
}

before(async () => {
  kube = await startKube();
  fleet = await startTestHub();
  uplink = await startPartitionProxy(fleet.hub.url, fleet.hub.ctx);
  const created = await fleet.api.createRelay({
    name: 'west',
    selector: { matchLabels: { region: 'west' } },
  });
  relayDir = await mkdtemp(join(tmpdir(), 'outpost-relay-'));
  relayPort = await freePort();
  // the relay reaches the hub through a link the tests can cut; until a test restarts it, it forwards
  // every report (refresh 0), so each heartbeat is an outbox item the outage tests can count
  relay = await startRelayProcess({
    stateDir: relayDir,
    port: relayPort,
    joinToken: created.joinToken,
    caPem: fleet.hub.caPem,
    extraArgs: ['--hub', uplink.url, '--report-refresh-seconds', '0'],
  });
  assert.notEqual(decodeRelayJoinToken(created.joinToken)?.hub, uplink.url);
  const west = await fleet.api.createBootstrapToken({
    autoApprove: true,
    maxUses: 10,
    labels: { region: 'west' },
    relays: [relay.url],
  });
  westJoin = west.joinToken;
});

after(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  if (process.env.OUTPOST_RELAY_TEST_LOG)
    await writeFile(process.env.OUTPOST_RELAY_TEST_LOG, relay?.log() ?? '');
  await relay?.stop();
  await uplink?.close();
  await restartedHub?.close();
  await fleet?.stop();
  await kube?.stop();
  if (relayDir) await rm(relayDir, { recursive: true, force: true });
});

test('an agent behind a relay gets a new revision through it and its reports reach the hub', {
  timeout: 120_000,
}, async (t) => {
  const log: string[] = [];
  const agent = await startAgent({ joinToken: westJoin }, kube.kubeconfigPath, {
    name: 'west-1',
    log: (message, fields) => log.push(`${message} ${JSON.stringify(fields ?? {})}`),
  });
  agents.push(agent);
  t.after(() => {
    if (process.env.OUTPOST_RELAY_TEST_LOG)
      return writeFile(`${process.env.OUTPOST_RELAY_TEST_LOG}.agent`, log.join('\n'));
  });
  await eventually('west-1 to register', async () => (await fleet.api.site('west-1')).lifecycle === 'Active');
  await fleet.api.applyBundle(
    bundleFile('menu', { matchLabels: { region: 'west' } }, [configMap('menu', '1')]),
  );
  await eventually(
    'menu r1 Ready at the hub',
    async () => (await deploymentAt('west-1', 'menu'))?.state === 'Ready',
    {
      timeoutMs: 60_000,
    },
  );
  // the site's calls go through the relay, not to the hub
  await eventually('the agent to call through the relay', () => agent.agent.status().via === relay.url, {
    timeoutMs: 30_000,
  });
  await fleet.api.applyBundle(
    bundleFile('menu', { matchLabels: { region: 'west' } }, [configMap('menu', '2')]),
  );
  const r2 = await eventually(
    'menu r2 Ready at the hub',
    async () => {
      const d = await deploymentAt('west-1', 'menu');
      return d?.state === 'Ready' && d.desiredRevision === 2 && d.appliedDigest === d.desiredDigest
        ? d
        : undefined;
    },
    { timeoutMs: 60_000 },
  );
  // a call the relay could not serve yet (a blob of a state the agent heard of from the hub first) falls
  // back for a moment; the site returns to its relay
  await eventually('the agent to be back on the relay', () => agent.agent.status().via === relay.url, {
    timeoutMs: 30_000,
  });
  assert.equal(agent.agent.status().desiredDigest, (await fleet.api.site('west-1')).desiredDigest);
  assert.equal(r2.desiredRevision, 2);
  const relays = await fleet.api.relays();
  assert.equal(relays[0]?.name, 'west');
  assert.equal(relays[0]?.status?.connectedSites, 1);
  // the hub knows the site comes through the relay (its batches are the latest it heard of west-1)
  await eventually('the hub to count west-1 through the relay', async () =>
    (await fleet.api.relay('west')).siteNames.includes('west-1'),
  );
});

test('a remote action and a log request reach a site through its relay, answered at the hub', {
  timeout: 60_000,
}, async () => {
  const agent = agents[0]!;
  await eventually('the agent to call through the relay', () => agent.agent.status().via === relay.url, {
    timeoutMs: 30_000,
  });
  const settled = (id: string) =>
    eventually(
      `operation ${id} to finish`,
      async () => {
        assert.equal(agent.agent.status().via, relay.url, 'the site stays on its relay');
        const op = await fleet.api.operation(id);
        return ['done', 'failed', 'expired', 'cancelled'].includes(op.state) ? op : undefined;
      },
      { timeoutMs: 20_000 },
    );
  // the relay's poll says work waits (the agent's polls are held there, the hub never sees them)
  const check = await settled((await fleet.api.requestAction('west-1', { action: 'drift-check' })).id);
  assert.equal(check.state, 'done', check.message ?? '');
  const logs = await settled(
    (await fleet.api.requestLogs('west-1', { namespace: 'default', pod: 'gone' })).id,
  );
  assert.equal(logs.state, 'failed');
  assert.match(logs.message ?? '', /pods "gone" not found/, 'the agent read its own apiserver');
});

test('with the uplink cut, reports wait in the relay outbox and reach the hub once each when it heals', {
  timeout: 120_000,
}, async () => {
  const site = (await fleet.api.site('west-1')).id;
  const before = uplink.reports.length;
  uplink.cut();
  // heartbeats every 2 s: let several pile up at the relay
  await eventually('reports to queue at the relay', async () => (await relay.status()).outbox.pending >= 4, {
    timeoutMs: 30_000,
  });
  await eventually('more reports to queue', async () => (await relay.status()).outbox.pending >= 6, {
    timeoutMs: 30_000,
  });
  uplink.heal();
  await eventually('the outbox to drain', async () => (await relay.status()).outbox.pending === 0, {
    timeoutMs: 60_000,
  });
  const seen = uplink.reports.slice(before).filter((r) => r.siteId === site);
  const accepted = seen.filter((r) => r.accepted).map((r) => r.seq);
  assert.ok(accepted.length >= 6, `at least 6 reports reached the hub, got ${accepted.length}`);
  assert.equal(new Set(accepted).size, accepted.length, 'no report was accepted twice');
  const lowest = Math.min(...accepted);
  const highest = Math.max(...accepted);
  assert.deepEqual(
    accepted.toSorted((a, b) => a - b),
    Array.from({ length: highest - lowest + 1 }, (_, i) => lowest + i),
    'no report was lost between the first and the last',
  );
  assert.equal((await relay.status()).outbox.dropped, 0);
});

test('with the hub down, a restarted relay serves the last desired state to a restarting agent', {
  timeout: 120_000,
}, async () => {
  const want = (await fleet.api.site('west-1')).desiredDigest;
  const [agent] = agents.splice(0, 1);
  await agent!.stop();
  // the site lost its own copy too (a replaced disk): only the relay can give it back
  for (const f of await readdir(agent!.stateDir)) {
    if (f.startsWith('desired') || f === 'blobs')
      await rm(join(agent!.stateDir, f), { recursive: true, force: true });
  }
  const port = new URL(fleet.hub.url).port;
  await fleet.hub.close();
  await relay.kill();
  relay = await startRelayProcess({ stateDir: relayDir, port: relayPort, caPem: fleet.hub.caPem });
  const again = await startAgent({ joinToken: westJoin }, kube.kubeconfigPath, {
    name: 'west-1',
    stateDir: agent!.stateDir,
  });
  agents.push(again);
  await eventually('the restarted agent to get its desired state from the relay', () =>
    again.agent.status().desiredDigest === want ? true : undefined,
  );
  assert.equal(again.agent.status().via, relay.url);
  // the hub comes back on its address and data: the relay's feed and outbox resume
  restartedHub = await startHub({ dataDir: fleet.dir, listen: `127.0.0.1:${port}`, maxWaitSeconds: 5 });
  fleet.hub = restartedHub;
  uplink.retarget(fleet.hub.ctx);
  await eventually('reports to flow again', async () => (await relay.status()).outbox.pending === 0, {
    timeoutMs: 60_000,
  });
});

test('a relay cannot act for a site outside its scope, and its sites fall back to the hub', {
  timeout: 120_000,
}, async () => {
  const east = await fleet.api.createBootstrapToken({
    autoApprove: true,
    labels: { region: 'east' },
    relays: [relay.url],
  });
  const agent = await startAgent({ joinToken: east.joinToken }, kube.kubeconfigPath, { name: 'east-1' });
  agents.push(agent);
  await fleet.api.applyBundle(
    bundleFile('east-menu', { matchLabels: { region: 'east' } }, [configMap('east', '1')]),
  );
  await eventually(
    'east-menu Ready via the hub',
    async () => (await deploymentAt('east-1', 'east-menu'))?.state === 'Ready',
    {
      timeoutMs: 60_000,
    },
  );
  assert.equal(agent.agent.status().via, fleet.hub.url, 'the relay refused the site; the hub served it');

  const eastId = (await fleet.api.site('east-1')).id;
  const http = await relayClient();
  try {
    const desired = await http.request('POST', '/relay/v1/desired', { body: { siteIds: [eastId] } });
    assert.equal(desired.status, 200);
    assert.deepEqual((desired.body as { states: unknown[] }).states, []);
    const batch = await http.request('POST', '/relay/v1/batches', {
      body: {
        items: [{ id: 1, siteId: eastId, kind: 'report', report: { seq: 999_999, deployments: [] } }],
        seen: [eastId],
        status: { connectedSites: 0, outbox: { pending: 0, bytes: 0, dropped: 0 }, feedLagSeconds: 0 },
      },
    });
    assert.equal(batch.status, 200);
    assert.equal((batch.body as { results: { outcome: string }[] }).results[0]?.outcome, 'refused');
    const feed = await http.request('GET', '/relay/v1/changes');
    assert.ok(!(feed.body as { sites: { id: string }[] }).sites.some((s) => s.id === eastId));
  } finally {
    http.close();
  }
});

test('relay calls without a relay certificate are refused', async () => {
  const anonymous = new HttpClient(fleet.hub.url, { ca: fleet.hub.caPem });
  try {
    assert.equal((await anonymous.request('GET', '/relay/v1/changes')).status, 401);
    const renew = await anonymous.request('POST', '/relay/v1/renew', { body: { csr: 'x', names: ['a'] } });
    assert.equal(renew.status, 401);
    const enrol = await anonymous.request('POST', '/relay/v1/enrol', {
      body: { token: '00000000-0000-0000-0000-000000000000.AAAAAAAAAAAAAAAAAAAA', csr: 'x', names: ['a'] },
    });
    assert.ok(enrol.status === 400 || enrol.status === 401, `enrol with a bad token: ${enrol.status}`);
  } finally {
    anonymous.close();
  }
  // a site's own certificate is not a relay's
  const id = JSON.parse(await readFile(join(agents[0]!.stateDir, 'identity.json'), 'utf8'));
  const asSite = new HttpClient(fleet.hub.url, { ca: fleet.hub.caPem, cert: id.certPem, key: id.keyPem });
  try {
    const res = await asSite.request('GET', '/relay/v1/changes');
    assert.equal(res.status, 401);
    const renew = await asSite.request('POST', '/relay/v1/renew', { body: { csr: 'x', names: ['a'] } });
    assert.equal(renew.status, 401, 'a site cannot get relay certificates with its own');
  } finally {
    asSite.close();
  }
  // the operator routes need an admin
  const viewer = new HttpClient(fleet.hub.url, { ca: fleet.hub.caPem });
  try {
    const res = await viewer.request('POST', '/api/v1/relays', { body: { name: 'x', selector: {} } });
    assert.equal(res.status, 401);
  } finally {
    viewer.close();
  }
});

test('a desired state changed at the relay is refused by the agent, which takes the hub’s instead', {
  timeout: 120_000,
}, async () => {
  const westId = (await fleet.api.site('west-1')).id;
  const want = (await fleet.api.site('west-1')).desiredDigest;
  const [agent] = agents.splice(0, 1);
  await agent!.stop();
  await rm(join(agent!.stateDir, 'desired.json'), { force: true });
  // a compromised relay, cut off from the hub: its cached state now names a forged blob, under a digest
  // that matches it
  uplink.cut();
  await relay.stop();
  const db = new DatabaseSync(join(relayDir, 'cache.sqlite'));
  const row = db.prepare('select json from desired where site_id = ?').get(westId) as { json: string };
  const state = JSON.parse(row.json) as DesiredState;
  const forged = JSON.stringify({ objects: [configMap('menu', 'forged')] });
  const forgedDigest = sha256Digest(forged);
  db.prepare('insert into blobs (digest, body) values (?, ?)').run(forgedDigest, forged);
  state.deployments = state.deployments.map((d) => ({ ...d, digest: forgedDigest }));
  state.digest = desiredDigest(state.deployments);
  db.prepare('update desired set digest = ?, json = ? where site_id = ?').run(
    state.digest,
    JSON.stringify(state),
    westId,
  );
  db.close();
  relay = await startRelayProcess({ stateDir: relayDir, port: relayPort, caPem: fleet.hub.caPem });
  const again = await startAgent({ joinToken: westJoin }, kube.kubeconfigPath, {
    name: 'west-1',
    stateDir: agent!.stateDir,
  });
  agents.push(again);
  await eventually('the agent to take the hub’s desired state', () =>
    again.agent.status().desiredDigest === want ? true : undefined,
  );
  assert.notEqual(again.agent.status().desiredDigest, state.digest);
  assert.equal(again.agent.status().via, fleet.hub.url);
  uplink.heal();
});

test('a relay serving another site’s validly signed state to a site is refused by the agent', {
  timeout: 120_000,
}, async () => {
  const westId = (await fleet.api.site('west-1')).id;
  // a second site behind the same relay, given a state of its own
  const decoy = await enrollAt(
    fleet.hub.url,
    fleet.hub.caPem,
    decodeJoinToken(fleet.joinToken)!.token,
    'west-decoy',
    { region: 'west', decoy: 'yes' },
  );
  decoy.http.close();
  await fleet.api.applyBundle(
    bundleFile('decoy', { matchLabels: { decoy: 'yes' } }, [configMap('decoy', '1')]),
  );
  const want = (await fleet.api.site('west-1')).desiredDigest;
  const decoyDigest = await eventually('the decoy to have a desired state', async () => {
    const d = (await fleet.api.site('west-decoy')).desiredDigest;
    return d && d !== want ? d : undefined;
  });
  // what a compromised relay holds: both states from one answer, one root signature, two proofs
  const client = await relayClient();
  const res = await client.request('POST', '/relay/v1/desired', {
    body: { siteIds: [westId, decoy.siteId] },
  });
  client.close();
  assert.equal(res.status, 200);
  const states = (res.body as { states: { siteId: string; state: DesiredState }[] }).states;
  const decoyState = states.find((s) => s.siteId === decoy.siteId)!.state;
  const westState = states.find((s) => s.siteId === westId)!.state;
  assert.equal(decoyState.digest, decoyDigest);
  assert.equal(decoyState.signature, westState.signature);
  assert.notDeepEqual(decoyState.proof, westState.proof);

  // west-1's agent (an east site's runs next to it since the scope test)
  const [agent] = agents.splice(
    agents.findIndex((a) => a.agent.status().site === 'west-1'),
    1,
  );
  await agent!.stop();
  await rm(join(agent!.stateDir, 'desired.json'), { force: true });
  uplink.cut();
  await relay.stop();
  const db = new DatabaseSync(join(relayDir, 'cache.sqlite'));
  db.prepare('update desired set digest = ?, json = ? where site_id = ?').run(
    decoyState.digest,
    JSON.stringify(decoyState),
    westId,
  );
  db.close();
  relay = await startRelayProcess({ stateDir: relayDir, port: relayPort, caPem: fleet.hub.caPem });
  const again = await startAgent({ joinToken: westJoin }, kube.kubeconfigPath, {
    name: 'west-1',
    stateDir: agent!.stateDir,
  });
  agents.push(again);
  await eventually('the agent to take the hub’s desired state', () =>
    again.agent.status().desiredDigest === want ? true : undefined,
  );
  assert.notEqual(again.agent.status().desiredDigest, decoyDigest);
  assert.equal(again.agent.status().via, fleet.hub.url);
  uplink.heal();
});

test('with its relay down a site falls back to the hub, and returns to the relay when it is back', {
  timeout: 120_000,
}, async () => {
  const agent = agents.find((a) => a.agent.status().site === 'west-1')!;
  await relay.kill();
  await fleet.api.applyBundle(
    bundleFile('menu', { matchLabels: { region: 'west' } }, [configMap('menu', '3')]),
  );
  await eventually(
    'menu r3 Ready at the hub, from the hub',
    async () => {
      const d = await deploymentAt('west-1', 'menu');
      return d?.desiredRevision === 3 && d.state === 'Ready' && d.appliedDigest === d.desiredDigest;
    },
    { timeoutMs: 60_000 },
  );
  assert.equal(agent.agent.status().via, fleet.hub.url);
  relay = await startRelayProcess({ stateDir: relayDir, port: relayPort, caPem: fleet.hub.caPem });
  await eventually('the site to return to its relay', () => agent.agent.status().via === relay.url, {
    timeoutMs: 30_000,
  });
});

/** The reports of a site the hub stored, in arrival order. */
function storedReports(siteId: string): number[] {
  return uplink.reports.filter((r) => r.siteId === siteId && r.accepted).map((r) => r.seq);
}

async function restartRelay(extraArgs: string[]): Promise<void> {
  await relay.stop();
  relay = await startRelayProcess({ stateDir: relayDir, port: relayPort, caPem: fleet.hub.caPem, extraArgs });
  const agent = agents.find((a) => a.agent.status().site === 'west-1')!;
  await eventually('the site to return to its relay', () => agent.agent.status().via === relay.url, {
    timeoutMs: 30_000,
  });
}

test('behind a relay a heartbeat that repeats the last report is kept back: the hub stores one, the site stays seen', {
  timeout: 120_000,
}, async () => {
  const site = await fleet.api.site('west-1');
  await restartRelay([]);
  await eventually('a heartbeat to be kept back', async () => (await relay.status()).reports.keptBack >= 1, {
    timeoutMs: 30_000,
  });
  const before = await fleet.api.site('west-1');
  const stored = storedReports(site.id).length;
  const { keptBack } = (await relay.status()).reports;
  // heartbeats every 2 s: three more, all repeating the last one
  await eventually(
    'three more heartbeats kept back',
    async () => (await relay.status()).reports.keptBack >= keptBack + 3,
    {
      timeoutMs: 30_000,
    },
  );
  const after = await eventually('the hub to hear of the site', async () => {
    const now = await fleet.api.site('west-1');
    return now.lastSeen! > before.lastSeen! ? now : undefined;
  });
  assert.equal(after.lastReport, before.lastReport, 'no report stored');
  assert.equal(storedReports(site.id).length, stored, 'none reached the hub');
  assert.equal(after.connectivity, 'Online');
  // the relay tells the hub what it kept back, with its batches
  await eventually('the hub to show the relay’s counts', async () => {
    const reports = (await fleet.api.relay('west')).status?.reports;
    return reports !== undefined && reports.keptBack >= keptBack + 3 && reports.forwarded >= 1;
  });
});

test('a changed report reaches the hub through the relay at once, its sequence jumping the kept-back ones', {
  timeout: 120_000,
}, async () => {
  const site = await fleet.api.site('west-1');
  const agent = agents.find((a) => a.agent.status().site === 'west-1')!;
  const last = Math.max(...storedReports(site.id));
  const kept = (await relay.status()).reports.keptBack;
  assert.ok(kept >= 4, `heartbeats were kept back since the last stored report (${kept})`);
  await fleet.api.applyBundle(
    bundleFile('menu', { matchLabels: { region: 'west' } }, [configMap('menu', '4')]),
  );
  const applied = await eventually(
    'menu r4 Ready at the hub',
    async () => {
      const d = await deploymentAt('west-1', 'menu');
      return d?.desiredRevision === 4 && d.state === 'Ready' && d.appliedDigest === d.desiredDigest;
    },
    { timeoutMs: 60_000 },
  );
  assert.ok(applied);
  assert.equal(agent.agent.status().via, relay.url, 'the reports came through the relay');
  const next = storedReports(site.id).find((seq) => seq > last)!;
  assert.ok(next > last + 1, `the hub took seq ${next} after ${last}: a gap is not a replay`);
});

test('with a short refresh interval a repeating report still goes up every interval', {
  timeout: 120_000,
}, async () => {
  const site = await fleet.api.site('west-1');
  await restartRelay(['--report-refresh-seconds', '3']);
  await eventually('a heartbeat to be kept back', async () => (await relay.status()).reports.keptBack >= 1, {
    timeoutMs: 30_000,
  });
  const from = await relay.status();
  const stored = storedReports(site.id).length;
  const before = await fleet.api.site('west-1');
  await eventually(
    'five more heartbeats',
    async () => {
      const { reports } = await relay.status();
      return reports.forwarded + reports.keptBack >= from.reports.forwarded + from.reports.keptBack + 5;
    },
    { timeoutMs: 30_000 },
  );
  const to = await relay.status();
  assert.ok(to.reports.forwarded >= from.reports.forwarded + 2, 'a full report at least every 4 s');
  assert.ok(to.reports.keptBack > from.reports.keptBack, 'the ones in between kept back');
  await eventually(
    'the refreshed reports stored at the hub',
    () => storedReports(site.id).length >= stored + 2,
  );
  const after = await fleet.api.site('west-1');
  assert.notEqual(after.lastReport, before.lastReport);
});

test('a report the outbox drops is forgotten: the next one goes up in full, not kept back', {
  timeout: 120_000,
}, async () => {
  // a budget smaller than one report: every report is dropped as it is kept
  await restartRelay(['--outbox-budget-mib', '0.0002']);
  const from = await relay.status();
  await eventually(
    'four reports forwarded',
    async () => (await relay.status()).reports.forwarded >= from.reports.forwarded + 4,
    {
      timeoutMs: 30_000,
    },
  );
  const to = await relay.status();
  assert.equal(to.reports.keptBack, 0, 'none kept back: the hub had none of them');
  assert.ok(to.outbox.dropped >= from.outbox.dropped + 4, 'they were dropped');
  // with room again, a restarted relay knows of no forwarded report: the first one goes up and is stored
  await restartRelay([]);
  await eventually(
    'a report forwarded and taken by the hub',
    async () => {
      const { reports, outbox } = await relay.status();
      return reports.forwarded >= 1 && outbox.pending === 0;
    },
    { timeoutMs: 30_000 },
  );
});
