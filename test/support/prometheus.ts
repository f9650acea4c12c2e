// Reads Prometheus text exposition format with Prometheus' own parser (Go, expfmt): hack/promparse,
// built once from the Go module proxy into a cache outside the work tree, keyed by its source.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export interface Series {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  labels: Record<string, string>;
  value: number;
}

const source = resolve(import.meta.dirname, '..', '..', 'hack', 'promparse');
let built: Promise<string> | undefined;

async function build(): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(await readFile(join(source, f)));
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  const bin = join(cache, 'outpost', 'promparse', hash.digest('hex').slice(0, 16), 'promparse');
  try {
    await access(bin);
    return bin;
  } catch {
    await promisify(execFile)('go', ['build', '-o', bin, '.'], {
      cwd: source,
      env: { ...process.env, CGO_ENABLED: '0' },
    });
    return bin;
  }
}

/** Every series in `text` as Prometheus parses it; rejects with the parser's error on bad input. */
export async function parsePrometheusText(text: string): Promise<Series[]> {
  built ??= build();
  const bin = await built;
  return new Promise((done, fail) => {
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) {
        fail(new Error(`not valid Prometheus text format: ${Buffer.concat(err).toString('utf8').trim()}`));
        return;
      }
      const raw = JSON.parse(Buffer.concat(out).toString('utf8')) as Array<
        Omit<Series, 'value'> & { value: string }
      >;
      done(
        raw.map((s) => ({
          ...s,
          value: s.value === '+Inf' ? Infinity : s.value === '-Inf' ? -Infinity : Number(s.value),
        })),
      );
    });
    child.stdin.end(text);
  });
}
