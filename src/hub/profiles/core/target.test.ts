import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProfileSpec } from '../../../model/profile.ts';
import { stackTargetOf, targetRevision } from './target.ts';

const spec: ProfileSpec = {
  kubernetes: {
    distribution: 'k3s',
    version: 'v1.31.4+k3s1',
    upgrade: { concurrency: 2, cordon: true, drain: true },
  },
  os: { image: 'Ubuntu', version: '24.04' },
  hooks: { os: { command: ['/usr/local/bin/os-upgrade'] } },
  addons: [{ bundle: 'cni' }],
  upgradeDeadlineSeconds: 900,
};

test('a target carries the host layers, hooks and deadline of its revision, not the bundle layers', () => {
  assert.deepEqual(stackTargetOf('stores', 3, spec), {
    profile: 'stores',
    revision: 3,
    kubernetes: {
      distribution: 'k3s',
      version: 'v1.31.4+k3s1',
      upgrade: { concurrency: 2, cordon: true, drain: true },
    },
    os: { image: 'Ubuntu', version: '24.04' },
    hooks: { os: { command: ['/usr/local/bin/os-upgrade'] } },
    upgradeDeadlineSeconds: 900,
  });
});

test('a profile of bundles alone gives a target with no host layer to drive', () => {
  assert.deepEqual(stackTargetOf('apps', 1, { apps: [{ bundle: 'pos' }], upgradeDeadlineSeconds: 60 }), {
    profile: 'apps',
    revision: 1,
    upgradeDeadlineSeconds: 60,
  });
});

test('a site a rollout has not started keeps its revision; others and later revisions get the latest', () => {
  const hold = { toRevision: 4, held: new Map([['site-a', 3]]) };
  assert.equal(targetRevision('site-a', 4, hold), 3);
  assert.equal(targetRevision('site-b', 4, hold), 4);
  assert.equal(targetRevision('site-a', 5, hold), 5, 'a rollout of r4 holds nothing once r5 exists');
  assert.equal(targetRevision('site-a', 4, undefined), 4);
});
