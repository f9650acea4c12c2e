import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  compareKubernetesVersions,
  distributionOf,
  type KubernetesVersion,
  kubeletSkewProblem,
  kubernetesChangeProblem,
  parseKubernetesVersion,
} from './kubernetes-version.ts';

const v = (text: string): KubernetesVersion => {
  const parsed = parseKubernetesVersion(text);
  assert.ok(parsed, `${text} parses`);
  return parsed;
};

const arbitraryVersion = fc
  .record({
    minor: fc.integer({ min: 20, max: 40 }),
    patch: fc.integer({ min: 0, max: 20 }),
    build: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ minor, patch, build }) => v(`v1.${minor}.${patch}+k3s${build}`));

describe('parseKubernetesVersion', () => {
  test('reads upstream, k3s and RKE2 versions and names their distribution', () => {
    assert.equal(distributionOf(v('v1.31.4')), 'other');
    assert.equal(distributionOf(v('v1.31.4+k3s1')), 'k3s');
    assert.equal(distributionOf(v('v1.31.4+rke2r2')), 'rke2');
    assert.deepEqual(v('1.30.0'), { major: 1, minor: 30, patch: 0, build: '', text: 'v1.30.0' });
  });

  test('refuses what is not a version', () => {
    for (const text of ['', 'v1.31', 'latest', 'v1.31.4-', 'v01.2.3', 'v1.31.4+', 'v1.31.4 +k3s1'])
      assert.equal(parseKubernetesVersion(text), undefined, text);
  });

  test('orders by minor, then patch, then the distribution build', () => {
    const sorted = ['v1.30.9+k3s2', 'v1.31.0+k3s1', 'v1.31.4+k3s1', 'v1.31.4+k3s2'].map(v);
    for (let i = 1; i < sorted.length; i++)
      assert.ok(compareKubernetesVersions(sorted[i - 1]!, sorted[i]!) < 0, sorted[i]!.text);
  });
});

describe('kubernetesChangeProblem', () => {
  test('one minor up, a patch either way, or a new build are allowed', () => {
    assert.equal(kubernetesChangeProblem(v('v1.30.5+k3s1'), v('v1.31.4+k3s1')), undefined);
    assert.equal(kubernetesChangeProblem(v('v1.31.4+k3s1'), v('v1.31.2+k3s1')), undefined);
    assert.equal(kubernetesChangeProblem(v('v1.31.4+k3s1'), v('v1.31.4+k3s2')), undefined);
  });

  test('skipping a minor is refused, naming the minor to go through', () => {
    assert.equal(
      kubernetesChangeProblem(v('v1.29.3+k3s1'), v('v1.31.4+k3s1')),
      'v1.29.3+k3s1 → v1.31.4+k3s1 skips a Kubernetes minor version: upgrade to 1.30 first',
    );
  });

  test('going back a minor is refused', () => {
    assert.match(kubernetesChangeProblem(v('v1.31.0'), v('v1.30.9')) ?? '', /goes back a Kubernetes minor/);
  });

  test('property: a change is allowed exactly when it moves zero or one minor up', () => {
    fc.assert(
      fc.property(arbitraryVersion, arbitraryVersion, (from, to) => {
        const allowed = kubernetesChangeProblem(from, to) === undefined;
        assert.equal(allowed, to.minor - from.minor === 0 || to.minor - from.minor === 1);
      }),
    );
  });

  test('property: a chain of allowed changes never skips a minor between neighbours', () => {
    fc.assert(
      fc.property(fc.array(arbitraryVersion, { minLength: 2, maxLength: 8 }), (chain) => {
        const allowedAll = chain.every(
          (to, i) => i === 0 || kubernetesChangeProblem(chain[i - 1]!, to) === undefined,
        );
        if (allowedAll) {
          const first = chain[0]!;
          const last = chain.at(-1)!;
          assert.ok(last.minor - first.minor <= chain.length - 1);
          assert.ok(last.minor >= first.minor);
        }
      }),
    );
  });
});

describe('kubeletSkewProblem', () => {
  test('a kubelet up to three minors behind the API server is within the skew policy', () => {
    assert.equal(kubeletSkewProblem(v('v1.31.0'), v('v1.31.0')), undefined);
    assert.equal(kubeletSkewProblem(v('v1.31.0'), v('v1.28.9')), undefined);
  });

  test('a kubelet four minors behind, or newer than the API server, is refused', () => {
    assert.equal(
      kubeletSkewProblem(v('v1.32.0+k3s1'), v('v1.28.9+k3s1')),
      'kubelet v1.28.9+k3s1 is 4 minor versions behind the API server v1.32.0+k3s1 (at most 3)',
    );
    assert.equal(
      kubeletSkewProblem(v('v1.31.0'), v('v1.32.1')),
      'kubelet v1.32.1 is newer than the API server v1.31.0',
    );
  });

  test('property: the skew policy holds exactly for 0 to 3 minors behind', () => {
    fc.assert(
      fc.property(arbitraryVersion, arbitraryVersion, (apiserver, kubelet) => {
        const behind = apiserver.minor - kubelet.minor;
        assert.equal(kubeletSkewProblem(apiserver, kubelet) === undefined, behind >= 0 && behind <= 3);
      }),
    );
  });
});
