import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutpostError } from '../../../model/errors.ts';
import { type HostInstallOptions, hostEnvironment, hostUnit } from './systemd-unit.ts';

const base: HostInstallOptions = {
  launcher: '/opt/outpost-0.2.0/bin/outpost-agent',
  environmentFile: '/etc/outpost/agent.env',
};

/** The value of each `Key=value` line of a unit, the last one winning as systemd reads them. */
function keys(unit: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

test('the unit runs the launcher for good, with the state directory, the journal and confinement', () => {
  const unit = keys(
    hostUnit({
      ...base,
      kubeconfig: '/etc/rancher/k3s/k3s.yaml',
      name: 'store-7',
      labels: { region: 'west', 'example.com/tier': 'gold' },
    }),
  );
  assert.equal(
    unit.get('ExecStart'),
    '/opt/outpost-0.2.0/bin/outpost-agent --state-dir /var/lib/outpost-agent --kubeconfig /etc/rancher/k3s/k3s.yaml --name store-7 --label region=west --label example.com/tier=gold',
  );
  assert.equal(unit.get('Restart'), 'always');
  assert.equal(unit.get('StateDirectory'), 'outpost-agent');
  assert.equal(unit.get('StateDirectoryMode'), '0700');
  assert.equal(unit.get('EnvironmentFile'), '/etc/outpost/agent.env');
  assert.equal(unit.get('StandardOutput'), 'journal');
  assert.equal(unit.get('NoNewPrivileges'), 'yes');
  assert.equal(unit.get('ProtectSystem'), 'strict');
  assert.equal(unit.get('CapabilityBoundingSet'), '');
  assert.equal(unit.get('MemoryMax'), '256M');
  assert.equal(unit.get('User'), undefined, 'root by default: k3s and MicroK8s kubeconfigs are root-only');
  assert.equal(unit.get('WantedBy'), 'multi-user.target');
});

test('a state directory outside /var/lib is made writable instead of made by systemd', () => {
  const unit = keys(hostUnit({ ...base, stateDir: '/srv/outpost', user: 'outpost' }));
  assert.equal(unit.get('StateDirectory'), undefined);
  assert.equal(unit.get('ReadWritePaths'), '/srv/outpost');
  assert.equal(unit.get('User'), 'outpost');
});

test('the environment file carries the join token', () => {
  assert.match(hostEnvironment('outpost-join-v1.abc_-9'), /^OUTPOST_JOIN_TOKEN=outpost-join-v1\.abc_-9$/m);
});

test('values systemd would split or expand are refused', () => {
  const cases: Array<[() => string, RegExp]> = [
    [() => hostUnit({ ...base, launcher: 'bin/outpost-agent' }), /absolute/],
    [() => hostUnit({ ...base, stateDir: '/var/lib/out post' }), /quoted/],
    [() => hostUnit({ ...base, kubeconfig: '/root/$HOME/k' }), /quoted/],
    [() => hostUnit({ ...base, name: 'Store 7' }), /--name/],
    [() => hostUnit({ ...base, user: 'Root User' }), /--user/],
    [() => hostEnvironment('not-a-token'), /join token/],
  ];
  for (const [render, message] of cases) {
    assert.throws(render, (e: unknown) => e instanceof OutpostError && message.test(e.message));
  }
});
