import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readTar, TarError } from './tar.ts';

// Archives are made by GNU tar in each of the formats it writes, so the reader meets real headers.
const work = mkdtempSync(join(tmpdir(), 'outpost-tar-'));
after(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

function archive(files: Record<string, string>, format: string, extra: string[] = []): Uint8Array {
  const dir = join(work, `t${++n}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  mkdirSync(dir, { recursive: true });
  return execFileSync('tar', ['-c', `--format=${format}`, '-C', dir, ...extra, '.']);
}

const limits = { maxFiles: 100, maxBytes: 1 << 20 };
const longPath = `${'deep/'.repeat(30)}manifest.yaml`;

describe('readTar', () => {
  for (const format of ['gnu', 'pax', 'ustar']) {
    test(`reads the files of a ${format} archive, long names included`, () => {
      const files = { 'fleet/pos/bundle.yaml': 'kind: Bundle\n', 'fleet/empty.yaml': '' };
      const withLong = format === 'ustar' ? files : { ...files, [longPath]: 'kind: ConfigMap\n' };
      const read = readTar(archive(withLong, format), limits);
      assert.deepEqual(
        read.map((f) => [f.path, new TextDecoder().decode(f.data)]).sort(),
        Object.entries(withLong).sort(),
      );
    });
  }

  test('keeps whether a file is executable', () => {
    const dir = join(work, 'exec');
    mkdirSync(dir);
    writeFileSync(join(dir, 'run.sh'), 'echo hi\n');
    chmodSync(join(dir, 'run.sh'), 0o755);
    writeFileSync(join(dir, 'data.yaml'), 'a: 1\n');
    const read = readTar(execFileSync('tar', ['-c', '-C', dir, '.']), limits);
    assert.deepEqual(read.map((f) => [f.path, f.executable]).sort(), [
      ['data.yaml', false],
      ['run.sh', true],
    ]);
  });

  test('refuses a symbolic link, naming it', () => {
    const dir = join(work, 'link');
    mkdirSync(dir);
    symlinkSync('/etc/passwd', join(dir, 'passwd.yaml'));
    assert.throws(
      () => readTar(execFileSync('tar', ['-c', '-C', dir, '.']), limits),
      (e: Error) => e instanceof TarError && /passwd\.yaml: a symbolic link/.test(e.message),
    );
  });

  test('refuses a path that climbs out of the archive', () => {
    const dir = join(work, 'climb');
    mkdirSync(join(dir, 'a'), { recursive: true });
    writeFileSync(join(dir, 'evil.yaml'), 'x: 1\n');
    const tar = execFileSync('tar', ['-c', '--absolute-names', '-C', join(dir, 'a'), '../evil.yaml']);
    assert.throws(
      () => readTar(tar, limits),
      (e: Error) => e instanceof TarError && /leaves the archive/.test(e.message),
    );
  });

  test('refuses an archive over the file count or byte budget', () => {
    const many = archive({ 'a.yaml': 'a', 'b.yaml': 'b', 'c.yaml': 'c' }, 'gnu');
    assert.throws(() => readTar(many, { maxFiles: 2, maxBytes: 100 }), /more than 2 files/);
    const big = archive({ 'big.yaml': 'x'.repeat(5000) }, 'gnu');
    assert.throws(() => readTar(big, { maxFiles: 10, maxBytes: 4096 }), /exceed 4096 bytes/);
  });

  test('refuses what is not a tar archive, and a truncated one', () => {
    assert.throws(() => readTar(new TextEncoder().encode('x'.repeat(2048)), limits), /not a tar archive/);
    const whole = archive({ 'big.yaml': 'y'.repeat(3000) }, 'gnu');
    assert.throws(() => readTar(whole.subarray(0, 1536), limits), /truncated/);
  });
});
