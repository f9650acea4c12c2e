// The change feed by cursor, against a real hub on SQLite: a relay asking with its last answer's cursor is
// told only what changed since (a new digest, a site leaving or entering its scope), any other cursor
// gets the whole list, a delta with nothing in it is held until a change concerns the relay.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { relayFeedSince } from '../../src/hub/relays/change-feed.ts';
import { createRelay, type Relay as HubRelay } from '../../src/hub/relays/relays.ts';
import { decommissionSite, renewCertificate } from '../../src/hub/sites/registration.ts';
import { patchSite } from '../../src/hub/sites/sites.ts';
import type { RelayFeed } from '../../src/model/relay-wire.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import { type MemoryHub, memoryHub, type SiteHandle } from '../support/hub.ts';

const admin = { name: 'test', source: 'test' };
let hub: MemoryHub;
const sites: Record<string, SiteHandle> = {};
let relayCount = 0;

before(async () => {
  hub = await memoryHub();
  for (const name of ['w1', 'w2', 'w3']) sites[name] = await hub.register(name, { region: 'west' });
  sites.e1 = await hub.register('e1', { region: 'east' });
  await hub.applyBundle('menu', {});
});

after(() => hub.close());

/** A new relay for the west region (its own feed memory at the hub). */
async function westRelay(): Promise<HubRelay> {
  const { view } = await createRelay(hub.ctx, admin, {
    name: `west-${++relayCount}`,
    selector: { matchLabels: { region: 'west' } },
  });
  return { id: view.id, name: view.name, selector: view.selector };
}

/** The relay's feed since `cursor`, answered at once when nothing changed. */
async function feedSince(relay: HubRelay, cursor: string, waitMs = 0): Promise<RelayFeed> {
  const feed = await relayFeedSince(hub.ctx, relay, cursor, waitMs, new AbortController().signal);
  assert.ok(feed, 'an answer');
  return feed;
}

const ids = (feed: RelayFeed) => feed.sites.map((s) => s.id);

test('a relay without a cursor gets every site in its scope, with a cursor to ask with next', async () => {
  const relay = await westRelay();
  const full = await feedSince(relay, '');
  assert.equal(full.delta, undefined);
  assert.deepEqual(ids(full), [sites.w1!.siteId, sites.w2!.siteId, sites.w3!.siteId].sort());
  assert.ok(full.cursor, 'a cursor');
});

test('asked with its last cursor, the relay is told only the sites whose desired state changed', async () => {
  const relay = await westRelay();
  const full = await feedSince(relay, '');
  const quiet = await feedSince(relay, full.cursor!);
  assert.equal(quiet.delta, true);
  assert.deepEqual(quiet.sites, [], 'nothing changed');
  assert.deepEqual(quiet.removed, []);

  await hub.applyBundle('w1-only', { matchLabels: { region: 'west' } });
  const delta = await feedSince(relay, quiet.cursor!);
  assert.equal(delta.delta, true);
  assert.deepEqual(ids(delta), [sites.w1!.siteId, sites.w2!.siteId, sites.w3!.siteId].sort());
  const before = new Map(full.sites.map((s) => [s.id, s.digest]));
  for (const s of delta.sites) {
    assert.notEqual(s.digest, before.get(s.id), `${s.name}'s new digest`);
    assert.equal(s.serials.length, 1, `${s.name}'s certificate`);
  }
  // an east-only change concerns the west relay not at all
  await hub.applyBundle('east-only', { matchLabels: { region: 'east' } });
  const after = await feedSince(relay, delta.cursor!);
  assert.deepEqual(after.sites, []);
});

test('a site relabelled out of the scope arrives as a removal, and back in as an addition', async () => {
  const relay = await westRelay();
  const full = await feedSince(relay, '');
  await patchSite(hub.ctx, admin, 'w2', { labels: { region: 'east' } });
  const out = await feedSince(relay, full.cursor!);
  assert.equal(out.delta, true);
  assert.deepEqual(out.removed, [sites.w2!.siteId]);
  assert.ok(!ids(out).includes(sites.w2!.siteId));

  await patchSite(hub.ctx, admin, 'w2', { labels: { region: 'west' } });
  const back = await feedSince(relay, out.cursor!);
  assert.deepEqual(ids(back), [sites.w2!.siteId]);
  assert.deepEqual(back.removed, []);
});

test('a site in another relay’s scope relabelled is no removal for this one', async () => {
  const relay = await westRelay();
  const full = await feedSince(relay, '');
  await patchSite(hub.ctx, admin, 'e1', { labels: { region: 'east', format: 'mini' } });
  const delta = await feedSince(relay, full.cursor!);
  assert.deepEqual(delta.sites, []);
  assert.deepEqual(delta.removed, []);
});

test('an unknown, stale or superseded cursor is answered with the whole list', async () => {
  const relay = await westRelay();
  const first = await feedSince(relay, '');
  await hub.applyBundle('menu', {}, { a: '2' });
  const second = await feedSince(relay, first.cursor!);
  assert.equal(second.delta, true);
  assert.equal(second.sites.length, 3);
  // the relay did not take the second answer (say its catch-up failed): its first cursor is not vouched for
  const again = await feedSince(relay, first.cursor!);
  assert.equal(again.delta, undefined, 'an earlier cursor is answered in full');
  assert.equal(again.sites.length, 3);
  const forged = await feedSince(relay, 'deadbeef.1');
  assert.equal(forged.delta, undefined, 'a cursor of another hub process is answered in full');
  // a full answer more than a minute old is given again once nothing else is to be told (what no
  // notification announces is caught up), not in the middle of a change
  const fresh = await feedSince(relay, forged.cursor!);
  assert.equal(fresh.delta, true);
  hub.advance(61_000);
  const due = await feedSince(relay, fresh.cursor!);
  assert.equal(due.delta, undefined);
  hub.advance(61_000);
  await hub.applyBundle('menu', {}, { a: '3' });
  assert.equal((await feedSince(relay, due.cursor!)).delta, true, 'a change is told as a delta first');
});

test('a decommissioned site leaves the relay as a removal; its revoked certificate goes with it', async () => {
  const relay = await westRelay();
  const full = await feedSince(relay, '');
  await decommissionSite(hub.ctx, admin, 'w3');
  const delta = await feedSince(relay, full.cursor!);
  assert.deepEqual(delta.removed, [sites.w3!.siteId]);
  assert.deepEqual(delta.sites, []);
  // the next answers do not repeat it
  assert.deepEqual((await feedSince(relay, delta.cursor!)).removed, []);
});

test('a delta with nothing in it is held until a change concerns the relay', async () => {
  const relay = await westRelay();
  const full = await feedSince(relay, '');
  const startedAt = Date.now();
  const held = feedSince(relay, full.cursor!, 20_000);
  let answered = false;
  void held.then(() => {
    answered = true;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(answered, false, 'held while nothing changed');
  await hub.applyBundle('w1-menu', { matchLabels: { region: 'west' } }, { b: '2' });
  const delta = await held;
  assert.ok(Date.now() - startedAt < 10_000, 'answered on the change, not at the end of the hold');
  assert.equal(delta.delta, true);
  assert.ok(delta.sites.length > 0);
});

test('a held feed whose caller goes away ends without an answer, and its cursor still holds', async () => {
  const relay = await westRelay();
  const full = await feedSince(relay, '');
  const gone = new AbortController();
  const held = relayFeedSince(hub.ctx, relay, full.cursor!, 20_000, gone.signal);
  gone.abort();
  assert.equal(await held, undefined);
  assert.equal((await feedSince(relay, full.cursor!)).delta, true);
});

test('a renewed certificate reaches the relay as a delta, so the relay accepts it at once', async () => {
  const relay = await westRelay();
  const full = await feedSince(relay, '');
  const held = full.sites.find((s) => s.id === sites.w1!.siteId);
  assert.ok(held, 'w1 is in the scope');
  const csr = createCsr({ commonName: 'w1', keyPem: generateKeyPair().privateKeyPem });
  await renewCertificate(hub.ctx, { id: sites.w1!.siteId }, csr);
  const delta = await feedSince(relay, full.cursor!);
  assert.deepEqual(ids(delta), [sites.w1!.siteId]);
  assert.equal(delta.sites[0]!.serials.length, held.serials.length + 1, 'the old and the renewed serial');
});
