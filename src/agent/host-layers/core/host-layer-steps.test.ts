import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StackTarget } from '../../../model/site-stack.ts';
import { followKey, hostLayerSteps } from './host-layer-steps.ts';

const base: StackTarget = { profile: 'stores', revision: 3, upgradeDeadlineSeconds: 3600 };
const osHook = { command: ['/usr/local/sbin/os-upgrade', '--channel', 'stable'] };

test('the OS layer goes first, then Kubernetes through Plans for k3s', () => {
  const steps = hostLayerSteps({
    ...base,
    os: { image: 'SL-Micro', version: '6.1' },
    kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1' },
    hooks: { os: osHook },
  });
  assert.deepEqual(
    steps.map((s) => `${s.layer} ${s.via}`),
    ['os hook', 'kubernetes plans'],
  );
  assert.deepEqual(steps[0], { layer: 'os', via: 'hook', command: osHook.command, version: '6.1' });
});

test('another distribution is moved by its hook with the profile’s version', () => {
  const steps = hostLayerSteps({
    ...base,
    kubernetes: { distribution: 'other', version: 'v1.31.4' },
    hooks: { kubernetes: { command: ['/opt/kube-upgrade'] } },
  });
  assert.deepEqual(steps, [
    { layer: 'kubernetes', via: 'hook', command: ['/opt/kube-upgrade'], version: 'v1.31.4' },
  ]);
});

test('a layer with nothing on the site to move it is no step', () => {
  assert.deepEqual(
    hostLayerSteps({
      ...base,
      os: { image: 'Ubuntu', version: '24.04' },
      kubernetes: { distribution: 'other', version: 'v1.31.4' },
    }),
    [],
  );
});

test('a new revision that moves no host layer follows the same work; a new version does not', () => {
  const t: StackTarget = { ...base, kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1' } };
  assert.equal(followKey({ ...t, revision: 4 }), followKey(t));
  assert.notEqual(
    followKey({ ...t, kubernetes: { distribution: 'k3s', version: 'v1.31.5+k3s1' } }),
    followKey(t),
  );
  assert.notEqual(followKey({ ...t, upgradeDeadlineSeconds: 60 }), followKey(t));
  assert.equal(followKey(undefined), '');
});
