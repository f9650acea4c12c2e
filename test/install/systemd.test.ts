// `outpost agent install --systemd` as an operator runs it: the real command writes the unit and the
// join token's file, and systemd's own checker (`systemd-analyze verify`, Debian's systemd package)
// finds nothing wrong with the unit. Skipped, saying why, where systemd-analyze is not installed.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'src', 'cli', 'main.ts');
const launcher = join(root, 'deploy', 'outpost-agent');
const joinToken = 'outpost-join-v1.eyJodWIiOiJodHRwczovL2h1Yi5leGFtcGxlOjcwNzAifQ';

async function systemdAnalyze(): Promise<boolean> {
  try {
    await exec('systemd-analyze', ['--version']);
    return true;
  } catch {
    return false;
  }
}

test('the unit written by agent install --systemd passes systemd-analyze verify', async (t) => {
  if (!(await systemdAnalyze())) {
    t.skip('systemd-analyze is not installed (Debian: apt-get install systemd)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'outpost-systemd-'));
  try {
    const kubeconfig = join(dir, 'k3s.yaml');
    await writeFile(kubeconfig, 'apiVersion: v1\nkind: Config\n');
    const { stdout } = await exec(process.execPath, [
      cli,
      'agent',
      'install',
      '--systemd',
      '--join-token',
      joinToken,
      '--name',
      'store-1',
      '--label',
      'region=west',
      '--kubeconfig',
      kubeconfig,
      '--launcher',
      launcher,
      '--unit-dir',
      join(dir, 'units'),
      '--config-dir',
      join(dir, 'etc'),
    ]);
    const unitFile = join(dir, 'units', 'outpost-agent.service');
    assert.match(stdout, /wrote .*outpost-agent\.service/);
    assert.doesNotMatch(stdout, /systemd-analyze verify says/, 'the command found nothing to say');
    const unit = await readFile(unitFile, 'utf8');
    assert.match(unit, new RegExp(`^ExecStart=${launcher} --state-dir /var/lib/outpost-agent `, 'm'));
    const env = join(dir, 'etc', 'agent.env');
    assert.match(await readFile(env, 'utf8'), new RegExp(`^OUTPOST_JOIN_TOKEN=${joinToken}$`, 'm'));
    assert.equal((await stat(env)).mode & 0o777, 0o600, 'the join token is for root alone');
    const verify = await exec('systemd-analyze', ['verify', unitFile]);
    assert.equal(verify.stderr.trim(), '', 'systemd finds nothing wrong');

    // systemd does find what is wrong: a launcher that is not there
    await writeFile(unitFile, unit.replace(launcher, join(dir, 'missing', 'outpost-agent')));
    await assert.rejects(exec('systemd-analyze', ['verify', unitFile]), /is not executable/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('installing from a checkout without --launcher says where the launcher comes from', async () => {
  assert.ok(!existsSync(join(root, 'src', 'bin', 'outpost-agent')));
  await assert.rejects(
    exec(process.execPath, [cli, 'agent', 'install', '--systemd', '--join-token', joinToken]),
    (e: { stderr: string }) => /run this from an unpacked release/.test(e.stderr),
  );
});
