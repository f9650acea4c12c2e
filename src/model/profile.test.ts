import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ProfileSpec, parseProfileSpec, profileChangeProblem } from './profile.ts';

function spec(value: Record<string, unknown>): ProfileSpec {
  const parsed = parseProfileSpec(value);
  assert.ok(!('problem' in parsed), JSON.stringify(parsed));
  return parsed;
}

const k3s = (version: string) => spec({ kubernetes: { distribution: 'k3s', version } });

test('a new revision may move Kubernetes one minor up', () => {
  assert.equal(profileChangeProblem(k3s('v1.30.6+k3s1'), k3s('v1.31.4+k3s1')), undefined);
});

test('a new revision that skips a minor is refused on kubernetes.version', () => {
  assert.deepEqual(profileChangeProblem(k3s('v1.30.6+k3s1'), k3s('v1.32.0+k3s1')), {
    path: 'kubernetes.version',
    message: 'v1.30.6+k3s1 → v1.32.0+k3s1 skips a Kubernetes minor version: upgrade to 1.31 first',
  });
});

test('a new revision that changes the distribution is refused as a reinstall', () => {
  const rke2 = spec({ kubernetes: { distribution: 'rke2', version: 'v1.31.4+rke2r1' } });
  assert.equal(profileChangeProblem(k3s('v1.31.4+k3s1'), rke2)?.path, 'kubernetes.distribution');
});

test('adding or dropping the Kubernetes layer is not a version change', () => {
  const osOnly = spec({ os: { image: 'Ubuntu', version: '24.04' } });
  assert.equal(profileChangeProblem(osOnly, k3s('v1.31.4+k3s1')), undefined);
  assert.equal(profileChangeProblem(k3s('v1.31.4+k3s1'), osOnly), undefined);
});
