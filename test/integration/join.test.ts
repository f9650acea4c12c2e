// Zero-touch join as an agent lives it: a join token, a wait for approval, a certificate collected,
// renewed at two thirds of its life without the work stopping; and a hub whose CA does not match the
// join token is never trusted.

import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeJoinToken, encodeJoinToken } from '../../src/model/join-token.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startAgent, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

let kube: KubeFixture;
let fleet: TestHub;

before(async () => {
  kube = await startKube();
  // six-second certificates, so renewal (at two thirds) happens within the test
  fleet = await startTestHub({ certificateValidityDays: 6 / 86400 });
});

after(async () => {
  await fleet?.stop();
  await kube?.stop();
});

test('an agent waits for approval, collects its certificate, works, and renews it without stopping', async () => {
  const { joinToken } = await fleet.api.createBootstrapToken({
    autoApprove: false,
    labels: { region: 'west' },
  });
  const logs: string[] = [];
  const agent = await startAgent({ joinToken }, kube.kubeconfigPath, {
    name: 'store-join',
    log: (m) => logs.push(m),
  });
  try {
    const pending = await eventually('the site to appear Pending', async () =>
      (await fleet.api.sites()).find((s) => s.name === 'store-join' && s.lifecycle === 'Pending'),
    );
    assert.deepEqual(pending.labels, { region: 'west' });
    // what the site said about itself, read from its own cluster
    assert.equal(pending.facts.kubernetesVersion, 'v1.33.13');
    assert.deepEqual(pending.facts.capacity, { nodes: 0 });
    assert.equal(typeof pending.facts.hostname, 'string');
    assert.equal(typeof pending.facts.agentVersion, 'string');
    // the sealing key went with the registration, before any approval
    const keyFile = join(agent.stateDir, 'sealing-key.json');
    const sealingKey = await readFile(keyFile, 'utf8');
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.equal(
      (await fleet.api.sealingKeys({ site: ['store-join'] })).sites[0]?.publicKey,
      JSON.parse(sealingKey).publicKey,
    );
    await fleet.api.approve('store-join', {});
    await fleet.api.applyBundle(
      bundleFile('joined', { matchLabels: { region: 'west' } }, [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'joined', namespace: 'default' },
          data: { a: '1' },
        },
      ]),
    );
    await eventually(
      'the bundle to be Ready',
      async () => (await fleet.api.site('store-join')).deployments[0]?.state === 'Ready',
      { timeoutMs: 30_000 },
    );
    const firstExpiry = (await fleet.api.site('store-join')).certificateExpiresAt!;

    await eventually('the certificate to be renewed', () => logs.includes('certificate renewed'), {
      timeoutMs: 15_000,
    });
    const renewedExpiry = (await fleet.api.site('store-join')).certificateExpiresAt!;
    assert.ok(renewedExpiry > firstExpiry, 'the hub recorded a later expiry');
    assert.equal(await readFile(keyFile, 'utf8'), sealingKey, 'renewal leaves the sealing key alone');

    // Work goes on with the new certificate, past the old one's expiry.
    await new Promise((r) => setTimeout(r, Math.max(0, new Date(firstExpiry).getTime() - Date.now()) + 500));
    await fleet.api.applyBundle(
      bundleFile('joined', { matchLabels: { region: 'west' } }, [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'joined', namespace: 'default' },
          data: { a: '2' },
        },
      ]),
    );
    await eventually(
      'the edit to arrive after renewal',
      async () =>
        (await kube.request('GET', '/api/v1/namespaces/default/configmaps/joined')).body.data?.a === '2',
      {
        timeoutMs: 20_000,
      },
    );
  } finally {
    await agent.stop();
  }
});

test('an agent refuses a hub whose CA is not the one its join token pins', async () => {
  const real = decodeJoinToken(fleet.joinToken)!;
  const forged = encodeJoinToken({ ...real, caSha256: '0'.repeat(64) });
  const agent = await startAgent({ joinToken: forged }, kube.kubeconfigPath, { name: 'store-wary' });
  await assert.rejects(agent.done, /not the one the join token names/);
  await assert.rejects(agent.stop());
  assert.equal(
    (await fleet.api.sites()).some((s) => s.name === 'store-wary'),
    false,
  );
});
