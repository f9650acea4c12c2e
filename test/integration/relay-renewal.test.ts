// A relay renews its own certificates as an agent renews its site's: at two thirds of their life, with
// the client certificate it calls with, serving agents and calling the hub with the new ones without a
// restart. Certificates here last 9 s, so the relay renews several times while the test watches.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HttpClient } from '../../src/net/http-client.ts';
import { certificateInfo } from '../../src/pki/certificate.ts';
import { eventually } from '../support/eventually.ts';
import { startTestHub, type TestHub } from '../support/fleet.ts';
import { freePort, type RelayProcess, startRelayProcess } from '../support/relay-process.ts';

let fleet: TestHub;
let relay: RelayProcess;
let relayDir: string;

interface SavedIdentity {
  keyPem: string;
  clientCertPem: string;
  serverCertPem: string;
}

const saved = async (): Promise<SavedIdentity> =>
  JSON.parse(await readFile(join(relayDir, 'identity.json'), 'utf8'));

before(async () => {
  fleet = await startTestHub({ certificateValidityDays: 9 / 86400 });
  const created = await fleet.api.createRelay({
    name: 'north',
    selector: { matchLabels: { region: 'north' } },
  });
  relayDir = await mkdtemp(join(tmpdir(), 'outpost-relay-renewal-'));
  relay = await startRelayProcess({
    stateDir: relayDir,
    port: await freePort(),
    joinToken: created.joinToken,
    caPem: fleet.hub.caPem,
  });
});

after(async () => {
  await relay?.stop();
  await fleet?.stop();
  if (relayDir) await rm(relayDir, { recursive: true, force: true });
});

test('a relay renews its certificates before they run out and keeps serving and calling with the new ones', {
  timeout: 60_000,
}, async () => {
  const first = await saved();
  const firstClient = certificateInfo(first.clientCertPem);
  const renewed = await eventually(
    'the relay to renew',
    async () => {
      const now = await saved();
      return certificateInfo(now.clientCertPem).serialHex !== firstClient.serialHex ? now : undefined;
    },
    { timeoutMs: 15_000 },
  );
  const client = certificateInfo(renewed.clientCertPem);
  const server = certificateInfo(renewed.serverCertPem);
  assert.ok(client.notAfter > firstClient.notAfter);
  assert.notEqual(renewed.keyPem, first.keyPem, 'a new key with each renewal');
  assert.equal(server.notAfter.getTime(), client.notAfter.getTime());

  // past the first certificates' end: the relay still serves TLS (a verified client) and calls the hub
  const waitMs = firstClient.notAfter.getTime() - Date.now() + 1000;
  if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
  assert.equal(typeof (await relay.status()).connectedSites, 'number');
  await eventually('the hub to hear the relay after its first certificate ran out', async () => {
    const view = (await fleet.api.relays()).find((r) => r.name === 'north');
    return view?.lastSeen !== null && Date.parse(view!.lastSeen!) > firstClient.notAfter.getTime();
  });
  assert.match(relay.log(), /relay certificates renewed/);

  // a replaced client certificate is refused, though it has not run out
  const older = await saved();
  await eventually('another renewal', async () => {
    const now = await saved();
    return now.clientCertPem !== older.clientCertPem;
  });
  const withOld = new HttpClient(fleet.hub.url, {
    ca: fleet.hub.caPem,
    cert: older.clientCertPem,
    key: older.keyPem,
  });
  try {
    assert.ok(certificateInfo(older.clientCertPem).notAfter.getTime() > Date.now());
    assert.equal((await withOld.request('GET', '/relay/v1/changes')).status, 401);
  } finally {
    withOld.close();
  }
});
