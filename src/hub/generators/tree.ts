// Source trees on the hub's disk for the tools that read folders (helm, kustomize): a commit's or an
// artifact's files written once under a content-addressed name and never changed after, so a rendering
// can name its inputs by digest and two syncs of the same content share one folder.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface TreeFile {
  /** relative, '/'-separated, already checked to stay inside the tree */
  path: string;
  data: Uint8Array | string;
  executable?: boolean;
}

/**
 * The digest of a set of files: their paths and contents, independent of order and of where they sit.
 * @example treeDigest([{ path: 'Chart.yaml', data: 'name: pos\n' }])
 */
export function treeDigest(files: readonly TreeFile[]): string {
  const hash = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const content = createHash('sha256').update(f.data).digest('hex');
    hash.update(`${f.path}\u0000${content}\u0000${f.executable ? 'x' : '-'}\n`);
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Writes files under `parent/<digest hex>` unless that folder exists, and returns the folder. The
 * folder appears whole (written beside it, then renamed), so a reader never sees half a tree.
 */
export async function writeTree(parent: string, files: readonly TreeFile[]): Promise<string> {
  const dir = join(parent, treeDigest(files).slice('sha256:'.length));
  if (existsSync(dir)) return dir;
  const partial = `${dir}.${process.pid}.${Date.now()}.partial`;
  await rm(partial, { recursive: true, force: true });
  for (const f of files) {
    const full = join(partial, f.path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, f.data);
    if (f.executable) await chmod(full, 0o755);
  }
  await mkdir(partial, { recursive: true });
  try {
    await rename(partial, dir);
  } catch (e) {
    // another sync wrote the same content first: theirs is as good as ours
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(dir)) throw e;
  }
  return dir;
}
