// Chaos: the hub process is SIGKILLed while 100 sites register at once. On restart every site that got
// its certificate can use it, a site whose registration went unanswered registers again as the same
// machine and gets the same site, and the fleet holds each machine once.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import type { SiteView } from '../../src/model/wire.ts';
import { HttpClient } from '../../src/net/http-client.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import { siteAt } from '../support/hub-server.ts';
import { type KillableHub, recordChaos, startKillableHub } from './support.ts';

const siteCount = 100;
/** the hub is killed once this many sites have their certificates */
const killAfter = 40;

let hub: KillableHub | undefined;
after(async () => {
  await hub?.stop();
  if (hub) await rm(hub.dataDir, { recursive: true, force: true });
});

type Registered = { siteId: string; certificate: string };

async function register(hub: KillableHub, token: string, i: number, keyPem: string) {
  const anonymous = new HttpClient(hub.url, { ca: hub.caPem });
  try {
    return await anonymous.request('POST', '/agent/v1/register', {
      body: {
        token,
        machineId: `machine-reg-${i}`,
        name: `reg-${i}`,
        labels: { chaos: 'registration' },
        csr: createCsr({ commonName: 'site', keyPem }),
      },
    });
  } finally {
    anonymous.close();
  }
}

test('a hub killed during a burst of registrations loses no site and makes none twice', {
  timeout: 600_000,
}, async () => {
  hub = await startKillableHub();
  const r = await hub.operator.request('POST', '/api/v1/bootstrap-tokens', {
    body: { autoApprove: true, maxUses: 3 * siteCount },
  });
  assert.equal(r.status, 201);
  const token = decodeJoinToken((r.body as { joinToken: string }).joinToken)!.token;
  const keys = Array.from({ length: siteCount }, () => generateKeyPair().privateKeyPem);

  const registered = new Map<number, Registered>();
  let killed: Promise<void> | undefined;
  let failedAtKill = 0;
  await Promise.all(
    keys.map(async (keyPem, i) => {
      try {
        const res = await register(hub!, token, i, keyPem);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        registered.set(i, res.body as Registered);
        if (registered.size >= killAfter && !killed) killed = hub!.kill();
      } catch (e) {
        if (!killed) throw e;
        failedAtKill++;
      }
    }),
  );
  await killed;
  const beforeKill = registered.size;
  hub = await startKillableHub(hub);

  const listed = async () =>
    ((await hub!.operator.request('GET', '/api/v1/sites')).body as { items: SiteView[] }).items.filter(
      (s) => s.labels.chaos === 'registration',
    );
  const committedUnanswered = (await listed()).length - beforeKill;

  // every certificate the hub handed out before it died still identifies its site
  let certificatesRefused = 0;
  for (const [i, got] of registered) {
    const site = siteAt(hub.url, hub.caPem, got.siteId, `reg-${i}`, got.certificate, keys[i]!);
    const desired = await site.call('GET', '/agent/v1/sites/:site/desired');
    if (desired.status !== 200) certificatesRefused++;
    site.http.close();
  }
  // the others register again as the same machines, as their agents do
  let retriesRefused = 0;
  const byName = new Map((await listed()).map((s) => [s.name, s.id]));
  let sameSiteAgain = 0;
  for (let i = 0; i < siteCount; i++) {
    if (registered.has(i)) continue;
    const res = await register(hub, token, i, keys[i]!);
    if (res.status !== 200) {
      retriesRefused++;
      continue;
    }
    const got = res.body as Registered;
    if (byName.get(`reg-${i}`) === got.siteId) sameSiteAgain++;
    registered.set(i, got);
  }
  const sites = await listed();
  const duplicates = sites.length - new Set(sites.map((s) => s.name)).size;

  await recordChaos({
    scenario: 'hub-killed-registration',
    checked: `hub SIGKILLed once ${beforeKill} of ${siteCount} concurrent registrations were answered; after restart each answered site's certificate is accepted, the unanswered ones register again as the same machines (a registration committed unanswered gives back the same site), and the fleet holds each machine once`,
    figures: [
      { name: 'sites', value: siteCount, unit: 'sites' },
      { name: 'registered-before-kill', value: beforeKill, unit: 'sites' },
      { name: 'failed-at-kill', value: failedAtKill, unit: 'requests' },
      { name: 'committed-unanswered', value: committedUnanswered, unit: 'sites' },
      { name: 'same-site-on-retry', value: sameSiteAgain, unit: 'sites' },
      { name: 'certificates-refused', value: certificatesRefused, unit: 'sites', op: '<=', target: 0 },
      { name: 'retries-refused', value: retriesRefused, unit: 'sites', op: '<=', target: 0 },
      { name: 'duplicate-sites', value: duplicates, unit: 'sites', op: '<=', target: 0 },
      { name: 'sites-registered', value: sites.length, unit: 'sites', op: '>=', target: siteCount },
    ],
  });
  assert.equal(certificatesRefused, 0);
  assert.equal(retriesRefused, 0);
  assert.equal(sameSiteAgain, committedUnanswered, 'a committed registration is the same site when retried');
  assert.equal(sites.length, siteCount);
  assert.equal(duplicates, 0);
});
