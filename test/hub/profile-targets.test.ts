// The profile revision a site is given, as its desired state carries it (stack), on the real store: the
// digest covers it, a rollout starting the site on a new revision wakes its long-poll as a bundle change
// does, and a site no profile places, or two do, is given no stack. OUTPOST_TEST_ENGINE=postgres runs it on PostgreSQL.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tickProfileRollouts } from '../../src/hub/profiles/profile-rollouts.ts';
import type { DesiredState } from '../../src/model/wire.ts';
import { desiredDigest } from '../../src/render/rendered.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
let west1: Site;
let east1: Site;

const profile = (name: string, region: string, kubernetes: string) => `apiVersion: outpost.dev/v1
kind: Profile
metadata: {name: ${name}}
spec:
  placement:
    selector: {matchLabels: {region: ${region}}}
  kubernetes:
    distribution: k3s
    version: ${kubernetes}
    upgrade: {concurrency: 2, cordon: true, drain: false}
  os: {image: Ubuntu, version: "24.04"}
  upgradeDeadlineSeconds: 600
`;

async function apply(content: string) {
  const r = await hub.operator('POST', '/api/v1/profiles', { files: [{ path: 'profiles.yaml', content }] });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function desiredOf(site: Site): Promise<DesiredState> {
  const r = await site.call('GET', '/agent/v1/sites/:site/desired');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as DesiredState;
}

before(async () => {
  hub = await startHubServer({ rollouts: { tickIntervalMs: 0 } });
  west1 = await hub.enroll('west-1', { region: 'west' });
  east1 = await hub.enroll('east-1', { region: 'east' });
});

after(async () => {
  await hub?.close();
});

test('a site its profile places is given the revision and its host layers; the digest covers them', async () => {
  const before = await desiredOf(west1);
  assert.equal(before.stack, undefined);
  await apply(profile('west', 'west', 'v1.30.6+k3s1'));
  const desired = await desiredOf(west1);
  assert.deepEqual(desired.stack, {
    profile: 'west',
    revision: 1,
    kubernetes: {
      distribution: 'k3s',
      version: 'v1.30.6+k3s1',
      upgrade: { concurrency: 2, cordon: true, drain: false },
    },
    os: { image: 'Ubuntu', version: '24.04' },
    upgradeDeadlineSeconds: 600,
  });
  assert.notEqual(desired.digest, before.digest);
  assert.equal(desired.digest, desiredDigest(desired.deployments, desired.stack));
  assert.equal((await desiredOf(east1)).stack, undefined, 'no profile places east-1');
});

test('a rollout starting a site on a new revision wakes its long-poll, with the new target', async () => {
  const first = await desiredOf(west1);
  await apply(profile('west', 'west', 'v1.31.4+k3s1'));
  assert.equal((await desiredOf(west1)).stack?.revision, 1, 'the rollout has not started the site yet');
  const started = Date.now();
  const poll = west1.call('GET', '/agent/v1/sites/:site/desired?wait=30', undefined, {
    'if-none-match': `"${first.digest}"`,
  });
  await new Promise((r) => setTimeout(r, 100));
  await tickProfileRollouts(hub.ctx);
  const res = await poll;
  assert.equal(res.status, 200);
  assert.ok(Date.now() - started < 1900, `woke in ${Date.now() - started} ms, before the 2 s cap`);
  const woken = res.body as DesiredState;
  assert.equal(woken.stack?.revision, 2);
  assert.equal(woken.stack?.kubernetes?.version, 'v1.31.4+k3s1');
  assert.equal(woken.digest, desiredDigest(woken.deployments, woken.stack));
});

test('a site two profiles place is given no stack; one whose labels leave its profile loses it', async () => {
  await apply(profile('everywhere-west', 'west', 'v1.31.4+k3s1'));
  assert.equal((await desiredOf(west1)).stack, undefined, 'west and everywhere-west both match west-1');
  // narrowing the other profile's placement resolves the clash
  await apply(profile('everywhere-west', 'nowhere', 'v1.31.4+k3s1'));
  assert.equal((await desiredOf(west1)).stack?.profile, 'west');
  const moved = await hub.operator('PATCH', '/api/v1/sites/west-1', { labels: { region: 'east' } });
  assert.equal(moved.statusCode, 200, moved.body);
  const desired = await desiredOf(west1);
  assert.equal(desired.stack, undefined);
  assert.equal(desired.digest, desiredDigest(desired.deployments));
});

test('an approved site joining a profile’s labels is given its latest revision at once', async () => {
  const west2 = await hub.enroll('west-2', { region: 'west' });
  assert.equal((await desiredOf(west2)).stack?.revision, 2);
});
