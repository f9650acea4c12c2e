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

function problem(value: Record<string, unknown>): string {
  const parsed = parseProfileSpec(value);
  assert.ok('problem' in parsed, 'the spec was accepted');
  return `${parsed.problem.path}: ${parsed.problem.message}`;
}

test('the node upgrade policy fills what it leaves out with one node at a time, cordoned', () => {
  const s = spec({
    kubernetes: { distribution: 'rke2', version: 'v1.31.4+rke2r1', upgrade: { drain: true } },
  });
  assert.deepEqual(s.kubernetes?.upgrade, { concurrency: 1, cordon: true, drain: true });
  assert.equal(k3s('v1.31.4+k3s1').kubernetes?.upgrade, undefined);
});

test('a node upgrade policy is refused where no Plan drives the nodes, or out of range', () => {
  assert.equal(
    problem({ kubernetes: { distribution: 'other', version: 'v1.31.4', upgrade: {} } }),
    'kubernetes.upgrade: system-upgrade-controller drives k3s and rke2 only: write hooks.kubernetes',
  );
  assert.match(
    problem({ kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1', upgrade: { concurrency: 0 } } }),
    /^kubernetes\.upgrade\.concurrency: /,
  );
  assert.match(
    problem({ kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1', upgrade: { cordon: 'yes' } } }),
    /^kubernetes\.upgrade\.cordon: true or false/,
  );
});

test('a host hook names an absolute command for a layer the profile declares', () => {
  const s = spec({
    os: { image: 'SL-Micro', version: '6.1' },
    kubernetes: { distribution: 'other', version: 'v1.31.4' },
    hooks: {
      os: { command: ['/usr/sbin/os-upgrade', '--quiet'] },
      kubernetes: { command: ['/opt/kube-up'] },
    },
  });
  assert.deepEqual(s.hooks, {
    os: { command: ['/usr/sbin/os-upgrade', '--quiet'] },
    kubernetes: { command: ['/opt/kube-up'] },
  });
});

test('a host hook is refused without its layer, for k3s, or with a relative command', () => {
  assert.equal(
    problem({ apps: [{ bundle: 'pos' }], hooks: { os: { command: ['/bin/up'] } } }),
    'hooks.os: a hook moves the os layer: declare os too',
  );
  assert.equal(
    problem({
      kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1' },
      hooks: { kubernetes: { command: ['/bin/up'] } },
    }),
    'hooks.kubernetes: k3s and rke2 upgrade through system-upgrade-controller Plans, not a hook',
  );
  assert.equal(
    problem({ os: { image: 'Ubuntu', version: '24.04' }, hooks: { os: { command: ['os-up'] } } }),
    'hooks.os.command.0: an absolute path: the agent runs it without a shell',
  );
  assert.match(
    problem({ os: { image: 'Ubuntu', version: '24.04' }, hooks: { os: {} } }),
    /^hooks\.os\.command: /,
  );
  assert.match(
    problem({ os: { image: 'Ubuntu', version: '24.04' }, hooks: { apps: {} } }),
    /^hooks\.apps: unknown/,
  );
});
