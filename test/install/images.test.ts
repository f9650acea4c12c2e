// The agent and hub images: deploy/Containerfile.agent and Containerfile.hub built from a release folder
// by buildah without a daemon (vfs storage in a temp folder, chroot isolation), inspected, and run. No
// registry is reachable here, so the base image is a stand-in made from this Debian 12 machine's own
// copies of the libraries node links against (what distroless cc-debian12, the default base, holds);
// the Containerfiles' own steps are the ones that ship. Skipped, saying why, when buildah cannot be had
// (scripts/debian-tool-fixture.sh installs Debian's package).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { agentNodeFlags } from '../../src/agent/install/core/node-flags.ts';
import { type BuiltRelease, builtRelease } from '../support/releases.ts';

const exec = promisify(execFile);
let buildah: string | undefined;
let work: string;
let release: BuiltRelease;

async function findBuildah(): Promise<string | undefined> {
  const candidate = process.env.OUTPOST_BUILDAH || 'buildah';
  try {
    await exec(candidate, ['--version']);
    return candidate;
  } catch {
    return undefined;
  }
}

/** buildah on storage of the test's own, so nothing is left behind in /var/lib/containers. */
function run(...args: string[]) {
  return exec(
    buildah!,
    ['--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs', ...args],
    { maxBuffer: 64 * 1024 * 1024 },
  );
}

before(async () => {
  buildah = await findBuildah();
  if (!buildah) return;
  work = await mkdtemp(join(tmpdir(), 'outpost-images-'));
  release = await builtRelease('0.2.0');
  // the stand-in base: the shared libraries node needs, and the nonroot user distroless has
  const rootfs = join(work, 'base', 'rootfs');
  const { stdout } = await exec('ldd', [join(release.folder, 'node', 'bin', 'node')]);
  for (const lib of stdout.match(/\/\S+/g) ?? []) {
    await mkdir(join(rootfs, dirname(lib)), { recursive: true });
    await copyFile(lib, join(rootfs, lib));
  }
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(
    join(rootfs, 'etc', 'passwd'),
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
  );
  await writeFile(join(rootfs, 'etc', 'group'), 'nonroot:x:65532:\n');
  await writeFile(join(work, 'base', 'Containerfile'), 'FROM scratch\nCOPY rootfs/ /\n');
  await run('bud', '--isolation', 'chroot', '-t', 'localhost/outpost-test-cc-base', join(work, 'base'));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  ExposedPorts?: Record<string, unknown>;
}

async function buildAndInspect(containerfile: string, tag: string): Promise<ImageConfig> {
  await run(
    'bud',
    '--isolation',
    'chroot',
    '--build-arg',
    'BASE=localhost/outpost-test-cc-base',
    '-f',
    join(release.folder, containerfile),
    '-t',
    tag,
    release.folder,
  );
  const { stdout } = await run('inspect', '--type', 'image', tag);
  return (JSON.parse(stdout) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
}

/** Runs a command in a container of the image (chroot isolation) and returns its output. */
async function runIn(tag: string, ...command: string[]): Promise<string> {
  const { stdout: ctr } = await run('from', tag);
  try {
    const { stdout } = await run('run', '--isolation', 'chroot', ctr.trim(), '--', ...command);
    return stdout;
  } finally {
    await run('rm', ctr.trim());
  }
}

test('the agent image runs the release as uid 65532 with the agent flags, no shell inside', async (t) => {
  if (!buildah) {
    t.skip('buildah is not available (scripts/debian-tool-fixture.sh installs Debian buildah as root)');
    return;
  }
  const config = await buildAndInspect('Containerfile.agent', 'localhost/outpost-agent:0.2.0');
  assert.equal(config.User, '65532:65532');
  assert.deepEqual(config.Entrypoint, [
    '/opt/outpost/node/bin/node',
    ...agentNodeFlags,
    '/opt/outpost/app/outpost.mjs',
  ]);
  assert.deepEqual(config.Cmd, [
    'agent',
    '--state-dir',
    '/var/lib/outpost-agent',
    '--local-page',
    '0.0.0.0:7071',
  ]);
  const node = '/opt/outpost/node/bin/node';
  assert.equal(
    (await runIn('localhost/outpost-agent:0.2.0', node, '/opt/outpost/app/outpost.mjs', '--version')).trim(),
    '0.2.0',
  );
  assert.equal(
    (
      await runIn(
        'localhost/outpost-agent:0.2.0',
        node,
        ...agentNodeFlags,
        '-p',
        'process.getuid() + " " + typeof WebAssembly',
      )
    ).trim(),
    '65532 undefined',
    'not root, and the lite mode (no WebAssembly) is on',
  );
  await assert.rejects(
    runIn('localhost/outpost-agent:0.2.0', '/bin/sh', '-c', 'true'),
    'no shell in the image',
  );
});

test('the hub image carries the dashboard and serves from a data folder', async (t) => {
  if (!buildah) {
    t.skip('buildah is not available (scripts/debian-tool-fixture.sh installs Debian buildah as root)');
    return;
  }
  const config = await buildAndInspect('Containerfile.hub', 'localhost/outpost-hub:0.2.0');
  assert.equal(config.User, '65532:65532');
  assert.deepEqual(config.Entrypoint, ['/opt/outpost/node/bin/node', '/opt/outpost/app/outpost.mjs']);
  assert.deepEqual(config.Cmd, ['hub', '--data-dir', '/var/lib/outpost-hub', '--listen', '0.0.0.0:7070']);
  assert.ok(config.Env?.includes('OUTPOST_DASHBOARD_DIR=/opt/outpost/web'));
  assert.ok(config.ExposedPorts && '7070/tcp' in config.ExposedPorts);
  const built = await runIn(
    'localhost/outpost-hub:0.2.0',
    '/opt/outpost/node/bin/node',
    '-p',
    'require("node:fs").existsSync(process.env.OUTPOST_DASHBOARD_DIR + "/index.html")',
  );
  assert.equal(built.trim(), 'true');
});
