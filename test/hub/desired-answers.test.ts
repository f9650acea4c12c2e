// A long-poll woken by placement answers with the desired state placement committed, without reading it
// back: these pin that the answer is the one a read gives, byte for byte, however often the state changes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { desiredStates } from '../../src/hub/placement/desired.ts';
import type { DesiredState } from '../../src/model/wire.ts';
import { bundleFile } from '../support/fleet.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;

before(async () => {
  hub = await startHubServer({ maxWaitSeconds: 10 });
});

after(async () => {
  await hub.close();
});

const configMap = (name: string, version: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { version },
});

async function apply(bundle: string, selector: Record<string, string>, version: string): Promise<void> {
  const r = await hub.operator(
    'POST',
    '/api/v1/bundles/apply',
    bundleFile(bundle, { matchLabels: selector }, [configMap(bundle, version)]),
  );
  assert.equal(r.statusCode, 200, r.body);
}

/** The desired state as the agent receives it: the body's text and its ETag. */
async function desiredText(
  site: Site,
  etag?: string,
  wait = 0,
): Promise<{ status: number; text: string; etag: string }> {
  const r = await site.http.request('GET', `/agent/v1/sites/${site.siteId}/desired`, {
    query: wait > 0 ? { wait } : {},
    headers: etag ? { 'if-none-match': etag } : {},
    raw: true,
  });
  return { status: r.status, text: String(r.body), etag: r.headers.etag as string };
}

/** Resolves once `n` long-polls are held: a change made before would not be the one that wakes them. */
async function held(n: number): Promise<void> {
  const started = Date.now();
  while (hub.ctx.desiredWatch.waiting !== n) {
    assert.ok(Date.now() - started < 5000, `${hub.ctx.desiredWatch.waiting} polls held, not ${n}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a woken long-poll answers with the state its change announced, reading nothing', async () => {
  const site = await hub.enroll('announced');
  const first = await desiredText(site);
  const poll = desiredText(site, first.etag, 10);
  await held(1);
  // a state the store does not hold: an answer read from the store could not be it
  const announced: DesiredState = {
    site: 'announced',
    digest: `sha256:${'a'.repeat(64)}`,
    deployments: [{ bundle: 'only-announced', revision: 7, digest: `sha256:${'b'.repeat(64)}` }],
  };
  hub.ctx.desiredWatch.notify([site.siteId], new Map([[site.siteId, announced]]));
  const woken = await poll;
  assert.equal(woken.status, 200);
  assert.deepEqual(JSON.parse(woken.text), announced);
  assert.equal(woken.etag, `"${announced.digest}"`);
});

test('each placement that changes a held site answers it with the bytes a read gives, and never an older one', async () => {
  const site = await hub.enroll('twice', { zone: 'twice', tier: 'twice' });
  // two bundles, so the answer's order of deployments counts
  await apply('zz-late', { tier: 'twice' }, '1');
  let current = await desiredText(site);
  const seen = new Set([current.etag]);
  for (const version of ['1', '2', '3']) {
    const poll = desiredText(site, current.etag, 10);
    await held(1);
    await apply('aa-early', { zone: 'twice' }, version);
    const woken = await poll;
    assert.equal(woken.status, 200, `version ${version}: the poll is answered`);
    assert.ok(!seen.has(woken.etag), `version ${version}: a new state, not one the site had`);
    const read = await desiredText(site);
    assert.equal(woken.text, read.text, `version ${version}: the woken answer is what a read gives`);
    assert.equal(woken.etag, read.etag);
    const stored = (await desiredStates(hub.ctx.store.db, [site.siteId])).get(site.siteId)!;
    assert.deepEqual(JSON.parse(woken.text), stored);
    assert.deepEqual(
      stored.deployments.map((d) => d.bundle),
      ['aa-early', 'zz-late'],
    );
    seen.add(woken.etag);
    current = woken;
  }
});

test('two changes in a row: the poll the first one wakes is followed at once by the second', async () => {
  const site = await hub.enroll('in-a-row', { row: 'yes' });
  const first = await desiredText(site);
  const poll = desiredText(site, first.etag, 10);
  await held(1);
  await Promise.all([apply('row-one', { row: 'yes' }, '1'), apply('row-two', { row: 'yes' }, '1')]);
  const woken = await poll;
  assert.equal(woken.status, 200);
  const read = await desiredText(site);
  if (woken.etag !== read.etag) {
    // it was answered with the first change: the agent's next poll with it must not wait
    const started = Date.now();
    const next = await desiredText(site, woken.etag, 10);
    assert.equal(next.status, 200, 'the next poll is answered with the second change');
    assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms`);
    assert.equal(next.text, read.text);
  } else assert.equal(woken.text, read.text);
});

test('a site decommissioned while its poll is held is answered as a read would, then refused', async () => {
  const site = await hub.enroll('retiring', { retire: 'yes' });
  await apply('retire', { retire: 'yes' }, '1');
  const placed = await desiredText(site);
  assert.equal(JSON.parse(placed.text).deployments.length, 1);
  const poll = desiredText(site, placed.etag, 10);
  await held(1);
  const r = await hub.operator('POST', '/api/v1/sites/retiring/decommission');
  assert.equal(r.statusCode, 200, r.body);
  const woken = await poll;
  assert.equal(woken.status, 200);
  const stored = (await desiredStates(hub.ctx.store.db, [site.siteId])).get(site.siteId)!;
  assert.deepEqual(JSON.parse(woken.text), stored);
  assert.deepEqual(stored.deployments, [], 'nothing is placed on it any more');
  assert.equal((await desiredText(site)).status, 401, 'its certificate is revoked');
});
