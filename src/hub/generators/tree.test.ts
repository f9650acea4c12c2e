import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { treeDigest, writeTree } from './tree.ts';

const parent = mkdtempSync(join(tmpdir(), 'outpost-tree-'));
after(() => rmSync(parent, { recursive: true, force: true }));

test('a tree digest depends on paths, contents and execute bits, not on order', () => {
  const a = { path: 'Chart.yaml', data: 'name: pos\n' };
  const b = { path: 'templates/a.yaml', data: new TextEncoder().encode('kind: ConfigMap\n') };
  assert.equal(treeDigest([a, b]), treeDigest([b, a]));
  assert.notEqual(treeDigest([a, b]), treeDigest([a, { ...b, path: 'templates/b.yaml' }]));
  assert.notEqual(treeDigest([a, b]), treeDigest([a, { ...b, data: 'kind: Secret\n' }]));
  assert.notEqual(treeDigest([a, b]), treeDigest([a, { ...b, executable: true }]));
});

test('writing the same files twice gives the same folder, written once', async () => {
  const files = [
    { path: 'fleet/pos/bundle.yaml', data: 'kind: Bundle\n' },
    { path: 'fleet/pos/hook.sh', data: 'exit 0\n', executable: true },
  ];
  const dir = await writeTree(parent, files);
  assert.equal(dir, join(parent, treeDigest(files).slice('sha256:'.length)));
  assert.equal(readFileSync(join(dir, 'fleet/pos/bundle.yaml'), 'utf8'), 'kind: Bundle\n');
  assert.equal(statSync(join(dir, 'fleet/pos/hook.sh')).mode & 0o111, 0o111);
  const written = statSync(join(dir, 'fleet/pos/bundle.yaml')).mtimeMs;
  assert.equal(await writeTree(parent, [...files].reverse()), dir);
  assert.equal(statSync(join(dir, 'fleet/pos/bundle.yaml')).mtimeMs, written);
});
