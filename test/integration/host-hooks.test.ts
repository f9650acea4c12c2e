// Host hooks as real processes: shell scripts written to a temporary folder play an OS upgrade tool that
// succeeds, fails, asks to be run again after a reboot, is killed halfway and resumed, or overruns its deadline.

import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type HookTarget, HostHooks } from '../../src/agent/host-layers/host-hook.ts';
import type { LayerUpgrade } from '../../src/model/site-stack.ts';
import { eventually } from '../support/eventually.ts';

let dir: string;
/** what the site's OUTPOST_HOST_HOOKS would list: every hook the tests write */
const allowed = new Set<string>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outpost-hooks-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes an executable hook; every run appends "layer version" to runs.log in its state folder. */
async function hook(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  allowed.add(path);
  await writeFile(
    path,
    `#!/bin/sh\necho "$1 $2 $OUTPOST_HOOK_TARGET" >> "$OUTPOST_HOOK_STATE/runs.log"\n${body}\n`,
  );
  await chmod(path, 0o755);
  return path;
}

async function runs(stateDir: string, layer = 'os'): Promise<string[]> {
  const text = await readFile(join(stateDir, 'hooks', layer, 'runs.log'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

const os = (command: string, version = '24.04', deadlineSeconds = 60): HookTarget => ({
  layer: 'os',
  command: [command],
  version,
  deadlineSeconds,
});

test('a hook that succeeds makes the layer Conformant, with its progress lines on the way', async () => {
  const stateDir = await mkdtemp(join(dir, 'ok-'));
  const cmd = await hook(
    'ok.sh',
    'echo "progress downloading image"\necho "chatter"\necho "progress staged"\nexit 0',
  );
  const seen: LayerUpgrade[] = [];
  const hooks = new HostHooks({ stateDir, allowed });
  const p = await hooks.run(os(cmd), undefined, (x) => seen.push(x));
  assert.equal(p.state, 'Conformant', p.detail);
  assert.equal(p.detail, 'the os hook reached 24.04: staged');
  assert.deepEqual(
    seen.map((x) => `${x.state} ${x.detail}`),
    ['Upgrading the os hook is running', 'Upgrading downloading image', 'Upgrading staged'],
  );
  assert.deepEqual(await runs(stateDir), ['os 24.04 24.04']);
  // done for this version: asked again, the agent does not run the hook again
  assert.equal((await hooks.run(os(cmd))).state, 'Conformant');
  assert.deepEqual(await runs(stateDir), ['os 24.04 24.04']);
});

test('a hook that fails makes the layer Behind with its error, and is not retried for that version', async () => {
  const stateDir = await mkdtemp(join(dir, 'fail-'));
  const cmd = await hook(
    'fail.sh',
    'echo "progress checking disk"\necho "no space left on /var" >&2\nexit 1',
  );
  const hooks = new HostHooks({ stateDir, allowed });
  const p = await hooks.run(os(cmd));
  assert.equal(p.state, 'Behind');
  assert.deepEqual(p.behind, ['os']);
  assert.equal(p.detail, 'the os hook failed with exit 1: no space left on /var');
  assert.equal((await new HostHooks({ stateDir, allowed }).run(os(cmd))).state, 'Behind');
  assert.equal((await runs(stateDir)).length, 1);
  // a new target version is a new attempt
  await hooks.run(os(cmd, '24.10'));
  assert.deepEqual(await runs(stateDir), ['os 24.04 24.04', 'os 24.10 24.10']);
});

test('a hook killed halfway is run again and resumes from its own checkpoint', async () => {
  const stateDir = await mkdtemp(join(dir, 'killed-'));
  const cmd = await hook(
    'resumable.sh',
    [
      'if [ -f "$OUTPOST_HOOK_STATE/checkpoint" ]; then echo "progress resumed after $(cat "$OUTPOST_HOOK_STATE/checkpoint")"; exit 0; fi',
      'echo "image written" > "$OUTPOST_HOOK_STATE/checkpoint"',
      'echo $$ > "$OUTPOST_HOOK_STATE/pid"',
      'exec sleep 30',
    ].join('\n'),
  );
  const hooks = new HostHooks({ stateDir, allowed });
  const running = hooks.run(os(cmd));
  // 0 would name the test's own process group: wait for a whole pid
  const pid = await eventually('the hook’s pid', async () => {
    const text = await readFile(join(stateDir, 'hooks', 'os', 'pid'), 'utf8').catch(() => '');
    return /^\d+\n$/.test(text) && Number(text) > 1 ? Number(text) : undefined;
  });
  process.kill(pid, 'SIGKILL');
  const cut = await running;
  assert.equal(cut.state, 'Upgrading');
  assert.equal(cut.detail, 'the os hook was killed (SIGKILL)');
  const again = await hooks.run(os(cmd));
  assert.equal(again.state, 'Conformant', again.detail);
  assert.equal(again.detail, 'the os hook reached 24.04: resumed after image written');
  assert.equal((await runs(stateDir)).length, 2);
  assert.equal(again.startedAt, cut.startedAt);
});

test('an agent stopped mid-hook runs it again on its next start, deadline counted from the first', async () => {
  const stateDir = await mkdtemp(join(dir, 'restart-'));
  const cmd = await hook(
    'slow-once.sh',
    'if [ -f "$OUTPOST_HOOK_STATE/began" ]; then exit 0; fi\ntouch "$OUTPOST_HOOK_STATE/began"\nexec sleep 30',
  );
  const stop = new AbortController();
  const first = new HostHooks({ stateDir, allowed }).run(os(cmd), stop.signal);
  await eventually('the hook to begin', async () =>
    readFile(join(stateDir, 'hooks', 'os', 'began')).then(
      () => true,
      () => false,
    ),
  );
  stop.abort();
  const stopped = await first;
  assert.equal(stopped.state, 'Upgrading');
  const restarted = await new HostHooks({ stateDir, allowed }).run(os(cmd));
  assert.equal(restarted.state, 'Conformant', restarted.detail);
  assert.equal(restarted.startedAt, stopped.startedAt);
  assert.equal((await runs(stateDir)).length, 2);
});

test('a hook that asks to be run again (a reboot in the middle) is Upgrading until it exits 0', async () => {
  const stateDir = await mkdtemp(join(dir, 'reboot-'));
  const cmd = await hook(
    'reboot.sh',
    [
      'if [ -f "$OUTPOST_HOOK_STATE/rebooted" ]; then echo "progress booted into the new image"; exit 0; fi',
      'touch "$OUTPOST_HOOK_STATE/rebooted"',
      'echo "progress reboot scheduled"',
      'exit 75',
    ].join('\n'),
  );
  const hooks = new HostHooks({ stateDir, allowed });
  const first = await hooks.run(os(cmd));
  assert.equal(first.state, 'Upgrading');
  assert.equal(first.detail, 'the os hook asks to be run again: reboot scheduled');
  const second = await hooks.run(os(cmd));
  assert.equal(second.state, 'Conformant');
  assert.equal(second.detail, 'the os hook reached 24.04: booted into the new image');
});

test('a hook that outlives the deadline is stopped and the layer is Behind', async () => {
  const stateDir = await mkdtemp(join(dir, 'late-'));
  const cmd = await hook('late.sh', 'echo "progress still copying"\nexec sleep 30');
  const t0 = Date.now();
  const p = await new HostHooks({ stateDir, allowed }).run(os(cmd, '24.04', 1));
  assert.ok(Date.now() - t0 < 10_000, 'the hook was stopped at its deadline');
  assert.equal(p.state, 'Behind');
  assert.equal(p.detail, 'the os hook was stopped at the 1 s deadline: still copying');
});

test('a hook whose program is missing is Behind with the reason', async () => {
  const stateDir = await mkdtemp(join(dir, 'missing-'));
  allowed.add(join(dir, 'no-such-hook'));
  const p = await new HostHooks({ stateDir, allowed }).run(os(join(dir, 'no-such-hook')));
  assert.equal(p.state, 'Behind');
  assert.match(p.detail, /^the os hook failed with exit -?\d+: spawn .*no-such-hook ENOENT/);
});

test('a hook the host does not allow is never run, and the layer is Behind saying so', async () => {
  const stateDir = await mkdtemp(join(dir, 'refused-'));
  const cmd = await hook('not-listed.sh', 'exit 0');
  allowed.delete(cmd);
  const p = await new HostHooks({ stateDir, allowed }).run(os(cmd));
  assert.equal(p.state, 'Behind');
  assert.equal(
    p.detail,
    `the os hook ${cmd} is not one this host allows (OUTPOST_HOST_HOOKS): nothing was run`,
  );
  assert.deepEqual(await runs(stateDir), []);
});
