// Reads the files an operator points at (-f FILE or DIR) into the shape the hub parses, keeping the
// paths as given so errors point at the operator's own files.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { OutpostError } from '../model/errors.ts';
import type { BundleFiles } from '../model/wire.ts';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (/\.ya?ml$/i.test(entry.name)) out.push(path);
  }
  return out;
}

export async function readBundleFiles(target: string): Promise<BundleFiles> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(target);
  } catch {
    throw new OutpostError('request_invalid', `no such file or directory: ${target}`);
  }
  const paths = info.isDirectory() ? await walk(target) : [target];
  if (paths.length === 0) throw new OutpostError('request_invalid', `no .yaml or .yml files in ${target}`);
  const files = await Promise.all(
    paths.map(async (p) => ({ path: relative(process.cwd(), p) || p, content: await readFile(p, 'utf8') })),
  );
  return { files };
}
