// Agent releases for tests, built from this tree with the real scripts/build-release.sh (each about 20
// s, so kept in a temp cache keyed by the inputs; test files that need the same one share it), and bad
// releases derived from a good one: the same layout with the agent's code replaced.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
const cacheDir = join(tmpdir(), 'outpost-test-releases');

export interface BuiltRelease {
  version: string;
  /** the unpacked release folder (bin/, node/, app/, web/) */
  folder: string;
  tarball: string;
}

/** Every input of a release build, hashed: a cached release is used only while they are unchanged. */
async function inputsHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = async (dir: string): Promise<string[]> =>
    (await readdir(join(root, dir), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.endsWith('.test.ts'))
      .map((e) => join(e.parentPath, e.name))
      .sort();
  for (const f of [
    ...(await files('src')),
    ...(await files('deploy')),
    join(root, 'scripts/build-release.sh'),
    join(root, 'scripts/build-app.ts'),
    join(root, 'package-lock.json'),
  ])
    hash.update(f).update(await readFile(f));
  return hash.digest('hex').slice(0, 16);
}

/**
 * A release of this tree saying it is `version`, built once and shared: each caller builds into its
 * own folder and renames it into the cache, so two test files building at once never mix files.
 */
export async function builtRelease(version: string): Promise<BuiltRelease> {
  const key = `${version}-${await inputsHash()}`;
  const dir = join(cacheDir, key);
  const found = async (): Promise<BuiltRelease | undefined> => {
    const name = `outpost-${version}-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`;
    const release = { version, folder: join(dir, name), tarball: join(dir, `${name}.tar.gz`) };
    return existsSync(release.tarball) ? release : undefined;
  };
  const cached = await found();
  if (cached) return cached;
  await mkdir(cacheDir, { recursive: true });
  await pruneCache();
  const work = await mkdtemp(join(cacheDir, `.build-${key}-`));
  try {
    await exec('bash', [join(root, 'scripts/build-release.sh'), '--version', version, '--out', work], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    await rename(work, dir).catch(() => undefined); // another test file got there first: use theirs
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const built = await found();
  if (!built) throw new Error(`build-release.sh left no tarball for ${version} in ${dir}`);
  return built;
}

/** Cached releases of older trees go after an hour, so the cache holds about one tree's worth. */
async function pruneCache(): Promise<void> {
  for (const entry of await readdir(cacheDir)) {
    const path = join(cacheDir, entry);
    const { mtimeMs } = await stat(path);
    if (Date.now() - mtimeMs > 3600_000) await rm(path, { recursive: true, force: true });
  }
}

/**
 * A release laid out like `good` that says it is `version` but whose agent is `script` (JavaScript run
 * by the release's node in place of the built command): a release that hangs or crashes. The runtime is
 * linked, not copied, so packing it is quick; `work` receives the folder and the tarball.
 */
export async function derivedRelease(
  good: BuiltRelease,
  version: string,
  script: string,
  work: string,
): Promise<BuiltRelease> {
  const name = `outpost-${version}-linux-x64`;
  const folder = join(work, name);
  await mkdir(join(folder, 'node', 'bin'), { recursive: true });
  await mkdir(join(folder, 'app'), { recursive: true });
  await symlink(join(good.folder, 'node', 'bin', 'node'), join(folder, 'node', 'bin', 'node'));
  await writeFile(join(folder, 'app', 'outpost.mjs'), script);
  await writeFile(join(folder, 'app', 'agent-node-flags'), '\n');
  await writeFile(join(folder, 'app', 'VERSION'), `${version}\n`);
  const tarball = join(work, `${name}.tar.gz`);
  await exec('tar', ['-czf', tarball, '-C', work, name]);
  return { version, folder, tarball };
}
