// The hub's change feed to regional relays, with a real relay running in-process against a hub on
// loopback mTLS: a site leaving the relay's scope leaves what the relay serves, feeds asked together get
// one read of the fleet but each its own scope, and a feed call the hub holds counts as contact.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { relayFeed, signedDesiredStates } from '../../src/hub/relays/change-feed.ts';
import { createRelay, type Relay as HubRelay } from '../../src/hub/relays/relays.ts';
import { patchSite } from '../../src/hub/sites/sites.ts';
import type { DesiredState } from '../../src/model/wire.ts';
import { HttpClient } from '../../src/net/http-client.ts';
import { desiredBatchSignatureValid, desiredSignatureValid } from '../../src/pki/desired-signature.ts';
import { Relay } from '../../src/relay/relay.ts';
import { eventually } from '../support/eventually.ts';
import { type MemoryHub, memoryHub, type SiteHandle } from '../support/hub.ts';

/** how long the hub holds a feed call: the relay's feed call sits this long between answers */
const holdSeconds = 10;
const admin = { name: 'test', source: 'test' };

let hub: MemoryHub;
let relay: Relay;
let stateDir: string;
const stopRelay = new AbortController();
let running: Promise<void>;
const sites: Record<string, SiteHandle> = {};

/** The relay's answer to the site's own desired-state poll: 200 while the relay serves the site. */
async function servedByRelay(site: SiteHandle): Promise<number> {
  const http = new HttpClient(relay.url!, {
    ca: hub.ctx.tls.ca.certPem,
    cert: site.certPem,
    key: site.keyPem,
  });
  try {
    return (await http.request('GET', `/agent/v1/sites/${site.siteId}/desired`)).status;
  } finally {
    http.close();
  }
}

async function hubRelay(name: string, region: string): Promise<HubRelay> {
  const { view } = await createRelay(hub.ctx, admin, { name, selector: { matchLabels: { region } } });
  return { id: view.id, name: view.name, selector: view.selector };
}

before(async () => {
  hub = await memoryHub({ maxWaitSeconds: holdSeconds });
  for (const name of ['w1', 'w2']) sites[name] = await hub.register(name, { region: 'west' });
  sites.e1 = await hub.register('e1', { region: 'east' });
  await hub.applyBundle('menu', {});
  const created = await hub.post<{ joinToken: string }>('/api/v1/relays', {
    name: 'west',
    selector: { matchLabels: { region: 'west' } },
  });
  assert.equal(created.status, 201);
  stateDir = await mkdtemp(join(tmpdir(), 'outpost-relay-feed-'));
  relay = new Relay({
    joinToken: created.body.joinToken,
    stateDir,
    listen: '127.0.0.1:0',
    feedWaitSeconds: 50,
  });
  running = relay.run(stopRelay.signal);
  await eventually('the relay serves w1 and w2', async () => {
    if (!relay.url) return false;
    return (await servedByRelay(sites.w1!)) === 200 && (await servedByRelay(sites.w2!)) === 200;
  });
});

after(async () => {
  stopRelay.abort();
  await running;
  await hub.close();
  await rm(stateDir, { recursive: true, force: true });
});

test('the relay serves the hub’s states verbatim: one root signature for an answer, a proof per site valid for it alone', async () => {
  const served = async (site: SiteHandle) => {
    const http = new HttpClient(relay.url!, {
      ca: hub.ctx.tls.ca.certPem,
      cert: site.certPem,
      key: site.keyPem,
    });
    try {
      return (await http.request('GET', `/agent/v1/sites/${site.siteId}/desired`)).body as DesiredState;
    } finally {
      http.close();
    }
  };
  const w1 = await served(sites.w1!);
  const w2 = await served(sites.w2!);
  const ca = hub.ctx.tls.ca.certPem;
  // both came in the relay's first answer: one signature between them
  assert.equal(w1.signature, w2.signature);
  assert.notDeepEqual(w1.proof, w2.proof);
  assert.equal(desiredBatchSignatureValid(ca, sites.w1!.siteId, w1.digest, w1.proof!, w1.signature!), true);
  assert.equal(desiredBatchSignatureValid(ca, sites.w2!.siteId, w2.digest, w2.proof!, w2.signature!), true);
  assert.equal(desiredBatchSignatureValid(ca, sites.w2!.siteId, w1.digest, w1.proof!, w1.signature!), false);
  const [fromHub] = await signedDesiredStates(hub.ctx, await hubRelay('west-check', 'west'), [
    sites.w1!.siteId,
  ]);
  assert.deepEqual(
    { ...w1, proof: undefined, signature: undefined },
    { ...fromHub!.state, proof: undefined, signature: undefined },
  );
  // an answer of one site is a tree of one leaf: its proof is empty
  assert.deepEqual(fromHub!.state.proof, { index: 0, count: 1, path: [] });
});

test('with relaySignatures per-site each state is signed alone, as agents before the tree verify it', async () => {
  const config = hub.ctx.config as { relaySignatures: 'tree' | 'per-site' };
  config.relaySignatures = 'per-site';
  try {
    const west = await hubRelay('west-per-site', 'west');
    const answer = await signedDesiredStates(hub.ctx, west, [sites.w1!.siteId, sites.w2!.siteId]);
    assert.equal(answer.length, 2);
    const ca = hub.ctx.tls.ca.certPem;
    const [a, b] = answer;
    assert.equal(a!.state.proof, undefined);
    assert.notEqual(a!.state.signature, b!.state.signature);
    assert.equal(desiredSignatureValid(ca, a!.siteId, a!.state.digest, a!.state.signature!), true);
    assert.equal(desiredSignatureValid(ca, b!.siteId, b!.state.digest, b!.state.signature!), true);
    // one site's signature does not pass for the other's
    assert.equal(desiredSignatureValid(ca, b!.siteId, a!.state.digest, a!.state.signature!), false);
  } finally {
    config.relaySignatures = 'tree';
  }
});

test('a feed call the hub holds is contact: the relay shows no feed lag while it waits for a change', async () => {
  // the relay's feed is synced: its next call is held by the hub for up to holdSeconds
  await new Promise((r) => setTimeout(r, (holdSeconds / 2) * 1000));
  const lag = relay.status().feedLagSeconds;
  assert.ok(lag < 2, `feed lag ${lag} s while the hub holds the relay's feed call`);
});

test('a label change that takes a site out of the relay’s scope reaches its feed: the relay no longer serves it', {
  timeout: 60_000,
}, async () => {
  await patchSite(hub.ctx, admin, 'w2', { labels: { region: 'east' } });
  await eventually('the relay refuses w2', async () => (await servedByRelay(sites.w2!)) === 403, {
    timeoutMs: (holdSeconds + 20) * 1000,
  });
  assert.equal(await servedByRelay(sites.w1!), 200, 'w1 stays with the relay');
  await patchSite(hub.ctx, admin, 'w2', { labels: { region: 'west' } });
  await eventually('the relay serves w2 again', async () => (await servedByRelay(sites.w2!)) === 200, {
    timeoutMs: (holdSeconds + 20) * 1000,
  });
});

test('feeds asked in one turn share one read of the fleet, each cut to its own relay’s scope', async () => {
  const north = await hubRelay('north-feed', 'north');
  const east = await hubRelay('east-feed', 'east');
  const west = await hubRelay('west-feed', 'west');
  const [n, e, w] = await Promise.all([north, east, west].map((r) => relayFeed(hub.ctx, r)));
  assert.deepEqual(n!.sites, []);
  assert.deepEqual(
    e!.sites.map((s) => s.id),
    [sites.e1!.siteId],
  );
  assert.deepEqual(
    w!.sites.map((s) => s.id),
    [sites.w1!.siteId, sites.w2!.siteId].sort(),
  );
  for (const s of [...e!.sites, ...w!.sites]) assert.equal(s.serials.length, 1, `${s.name}'s certificate`);
  assert.notEqual(e!.digest, w!.digest);
});
