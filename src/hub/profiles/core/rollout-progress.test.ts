import assert from 'node:assert/strict';
import { test } from 'node:test';
import { strategyNamed } from '../../../model/rollout-strategy.ts';
import type { SiteConformance } from './conformance.ts';
import { behindReason, profileStrategy, progressStateOf } from './rollout-progress.ts';

const behind: SiteConformance = {
  state: 'Behind',
  layers: [
    { layer: 'os', state: 'Conformant', behind: [], detail: '' },
    {
      layer: 'kubernetes',
      state: 'Behind',
      behind: ['agent-1'],
      detail: 'node agent-1 runs v1.30.6+k3s1, the profile wants v1.31.4+k3s1',
    },
  ],
};

test('Conformant is done, Behind is failed, anything else is still upgrading', () => {
  assert.equal(progressStateOf({ state: 'Conformant', layers: [] }), 'Ready');
  assert.equal(progressStateOf(behind), 'Failed');
  for (const state of ['Upgrading', 'Unknown', 'Ahead'] as const)
    assert.equal(progressStateOf({ state, layers: [] }), 'Applying', state);
});

test('a failed site is marked with its Behind layer, the nodes and why', () => {
  assert.equal(
    behindReason(behind),
    'kubernetes layer Behind (agent-1): node agent-1 runs v1.30.6+k3s1, the profile wants v1.31.4+k3s1',
  );
  assert.equal(behindReason({ state: 'Upgrading', layers: [] }), undefined);
});

test('a profile rollout pauses instead of rolling back, and waits at least the upgrade deadline', () => {
  const byRegion = strategyNamed('by-region')!;
  assert.equal(byRegion.onFailure, 'rollback');
  const s = profileStrategy(byRegion, 3600);
  assert.equal(s.onFailure, 'pause');
  assert.equal(s.progressDeadlineSeconds, 3660);
  assert.deepEqual(s.waves, byRegion.waves);
  assert.equal(
    profileStrategy({ ...byRegion, progressDeadlineSeconds: 9000 }, 60).progressDeadlineSeconds,
    9000,
  );
});
