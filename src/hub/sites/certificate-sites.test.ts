import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { contextFromConfig } from '../assemble.ts';
import type { HubContext } from '../context.ts';
import { type CertificateLookup, siteIdentityChanged, trustForMs } from './certificate-sites.ts';
import { decommissionSite } from './registration.ts';
import { newSiteRow, patchSite } from './sites.ts';

const actor = { name: 'test', source: 'test' };
const serial = 'a1b2c3';
let t = Date.parse('2026-12-06T03:00:00Z');
let ctx: HubContext;

beforeEach(async () => {
  t = Date.parse('2026-12-06T03:00:00Z');
  ctx = await contextFromConfig(
    { database: ':memory:', connectivity: { sweepIntervalMs: 0 } },
    { now: () => new Date(t) },
  );
  await addSite('site-1', 'store-1', { lastSeenAgoMs: 0 });
});

afterEach(async () => {
  await ctx.close();
});

async function addSite(
  id: string,
  name: string,
  opts: { lastSeenAgoMs: number; connectivity?: string; serialHex?: string },
) {
  await ctx.store.db
    .insertInto('sites')
    .values(
      newSiteRow({
        id,
        name,
        lifecycle: 'Active',
        registered_at: new Date(t - 3600_000).toISOString(),
        last_seen_at: new Date(t - opts.lastSeenAgoMs).toISOString(),
        labels: JSON.stringify({ region: 'west' }),
        desired_digest: 'sha256:first',
        ...(opts.connectivity ? { connectivity: opts.connectivity } : {}),
      }),
    )
    .execute();
  await ctx.store.db
    .insertInto('certificates')
    .values({
      serial: opts.serialHex ?? serial,
      site_id: id,
      fingerprint: `fp-${id}`,
      not_before: new Date(t - 3600_000).toISOString(),
      not_after: new Date(t + 86400_000).toISOString(),
      revoked_at: null,
    })
    .execute();
}

/** Changes the stored row behind the hub's back: only a fresh read can see it. */
async function storeLabels(labels: Record<string, string>) {
  await ctx.store.db
    .updateTable('sites')
    .set({ labels: JSON.stringify(labels) })
    .execute();
}

function siteOf(found: CertificateLookup) {
  assert.ok(!('refused' in found), JSON.stringify(found));
  assert.ok(found.site);
  return found.site;
}

const lookup = (hex = serial) => ctx.certificateSites.lookup(ctx, hex);

test('a certificate is read once, then answered from memory until its site changes', async () => {
  assert.deepEqual(siteOf(await lookup()).labels, { region: 'west' });
  await storeLabels({ region: 'east' });
  assert.deepEqual(siteOf(await lookup()).labels, { region: 'west' }, 'remembered, not read again');
  siteIdentityChanged(ctx, ['site-1']);
  assert.deepEqual(siteOf(await lookup()).labels, { region: 'east' });
});

test('what memory holds is answered without a promise (the agent routes settle on it at once)', async () => {
  assert.equal(ctx.certificateSites.remembered(serial), undefined, 'not read yet');
  siteOf(await lookup());
  const remembered = ctx.certificateSites.remembered(serial);
  assert.ok(remembered && !(remembered instanceof Promise));
  assert.equal(siteOf(remembered).id, 'site-1');
  siteIdentityChanged(ctx, ['site-1']);
  assert.equal(ctx.certificateSites.remembered(serial), undefined, 'forgotten: read again');
  siteOf(await lookup());
  t += 86400_000;
  assert.deepEqual(ctx.certificateSites.remembered(serial), { refused: 'certificate expired' });
});

test('relabelling or decommissioning a site is seen by its very next call', async () => {
  siteOf(await lookup());
  await patchSite(ctx, actor, 'store-1', { labels: { region: 'north' } });
  assert.deepEqual(siteOf(await lookup()).labels, { region: 'north' });
  await decommissionSite(ctx, actor, 'store-1');
  assert.deepEqual(await lookup(), { refused: 'certificate revoked' });
});

test('an expired certificate is refused from memory, on the hub clock', async () => {
  siteOf(await lookup());
  t += 86400_000;
  assert.deepEqual(await lookup(), { refused: 'certificate expired' });
});

test(`nothing is trusted longer than ${trustForMs / 1000} s without a read`, async () => {
  siteOf(await lookup());
  await storeLabels({ region: 'east' });
  t += trustForMs - 1;
  assert.deepEqual(siteOf(await lookup()).labels, { region: 'west' });
  t += 1;
  assert.deepEqual(siteOf(await lookup()).labels, { region: 'east' });
});

test('a site silent long enough to be swept Stale is read again; a contact heard keeps it trusted', async () => {
  const staleAfter = ctx.config.connectivity.staleAfterMs;
  await addSite('site-2', 'store-2', { lastSeenAgoMs: staleAfter - 10_000, serialHex: 'b2' });
  await addSite('site-3', 'store-3', { lastSeenAgoMs: staleAfter - 10_000, serialHex: 'c3' });
  assert.equal(siteOf(await lookup('b2')).connectivity, 'Online');
  assert.equal(siteOf(await lookup('c3')).connectivity, 'Online');
  ctx.certificateSites.heard('site-3', new Date(t));
  await ctx.store.db.updateTable('sites').set({ connectivity: 'Stale' }).execute();
  t += 10_000;
  assert.equal(siteOf(await lookup('b2')).connectivity, 'Stale', 'the sweep may have moved it: read');
  assert.equal(siteOf(await lookup('c3')).connectivity, 'Online', 'heard 10 s ago: it cannot have moved');
});

test('a site that is not Active and Online is not remembered', async () => {
  await addSite('site-2', 'store-2', { lastSeenAgoMs: 0, connectivity: 'Offline', serialHex: 'b2' });
  siteOf(await lookup('b2'));
  await storeLabels({ region: 'east' });
  assert.deepEqual(siteOf(await lookup('b2')).labels, { region: 'east' });
});

test('a read overtaken by a change is answered but not remembered', async () => {
  const read = lookup();
  siteIdentityChanged(ctx, ['site-1']);
  siteOf(await read);
  await storeLabels({ region: 'east' });
  assert.deepEqual(siteOf(await lookup()).labels, { region: 'east' });
});

test('a desired change the watch announces clears the remembered digest, here or from a replica', async () => {
  assert.equal(siteOf(await lookup()).desiredDigest, 'sha256:first');
  ctx.desiredWatch.notify(['site-1']);
  assert.equal(siteOf(await lookup()).desiredDigest, null, 'unknown: the poll reads it');
  const readAt = ctx.desiredWatch.generation;
  ctx.certificateSites.learnDigest('site-1', 'sha256:second', readAt);
  assert.equal(siteOf(await lookup()).desiredDigest, 'sha256:second');
  // a read taken before the next change is not learnt after it
  const before = ctx.desiredWatch.generation;
  ctx.desiredWatch.wake(['site-1']);
  ctx.certificateSites.learnDigest('site-1', 'sha256:second', before);
  assert.equal(siteOf(await lookup()).desiredDigest, null);
});

test('a row read while a desired change is announced is remembered without its digest', async () => {
  const read = lookup();
  ctx.desiredWatch.notify(['site-1']);
  assert.equal(siteOf(await read).desiredDigest, 'sha256:first', 'the request itself has what it read');
  assert.equal(siteOf(await lookup()).desiredDigest, null);
});

test('forgetting everything (missed notifications) reads every certificate again', async () => {
  siteOf(await lookup());
  await storeLabels({ region: 'east' });
  ctx.certificateSites.clear();
  assert.deepEqual(siteOf(await lookup()).labels, { region: 'east' });
});
