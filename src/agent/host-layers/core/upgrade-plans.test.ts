import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upgradePlans } from './upgrade-plans.ts';

const started = '2026-12-05T10:00:00.000Z';

test('a k3s target makes a server Plan and an agent Plan that waits on it', () => {
  const { server, agent } = upgradePlans({ distribution: 'k3s', version: 'v1.31.4+k3s1' }, started);
  assert.equal(server.metadata.name, 'outpost-k3s-server');
  assert.equal(server.metadata.namespace, 'system-upgrade');
  assert.equal(server.metadata.annotations?.['outpost.dev/upgrade-started-at'], started);
  const s = server.spec as Record<string, unknown>;
  assert.equal(s.version, 'v1.31.4+k3s1');
  assert.deepEqual(s.upgrade, { image: 'rancher/k3s-upgrade' });
  assert.equal(s.concurrency, 1);
  assert.equal(s.cordon, true);
  assert.equal(s.drain, undefined);
  assert.deepEqual(s.nodeSelector, {
    matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }],
  });
  const a = agent.spec as Record<string, unknown>;
  assert.deepEqual(a.nodeSelector, {
    matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }],
  });
  assert.deepEqual(a.prepare, { image: 'rancher/k3s-upgrade', args: ['prepare', 'outpost-k3s-server'] });
});

test('the profile’s policy sets concurrency and drain on both Plans, and a drain cordons', () => {
  const plans = upgradePlans(
    {
      distribution: 'rke2',
      version: 'v1.31.4+rke2r1',
      upgrade: { concurrency: 3, cordon: false, drain: true },
    },
    started,
  );
  for (const plan of [plans.server, plans.agent]) {
    const s = plan.spec as Record<string, unknown>;
    assert.equal(s.concurrency, 3);
    assert.equal(s.cordon, true);
    assert.deepEqual(s.drain, { force: false, ignoreDaemonSets: true, deleteEmptydirData: true });
    assert.deepEqual(s.upgrade, { image: 'rancher/rke2-upgrade' });
  }
});

test('another distribution has no Plan', () => {
  assert.throws(() => upgradePlans({ distribution: 'other', version: 'v1.31.4' }, started), /host hook/);
});
