// Summarizes a V8 CPU profile (`node --cpu-prof`, e.g. a benchmark's hub run with
// OUTPOST_BENCH_HUB_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR") as the tables RESULTS.md quotes.
// Run: node bench/cpu-profile.ts FILE.cpuprofile [--from SECONDS] [--to SECONDS] [--top N]
// (--from/--to: the part of the run to summarize, in seconds since the profiled process started;
// the benchmarks print their measured window that way)

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives, in the words the tables use. */
const layers: Array<[RegExp, string]> = [
  [/node_modules\/kysely\//, 'Kysely (building, compiling, running queries)'],
  [
    /node_modules\/(fastify|find-my-way|light-my-request|avvio|@fastify)\//,
    'Fastify (routing, hooks, reply)',
  ],
  [/node_modules\/(ajv|fast-json-stringify|fast-uri|typebox|@sinclair)/, 'validation and serialization'],
  [/node_modules\/(pino|sonic-boom|thread-stream)/, 'logging'],
  [/node_modules\/pg/, 'pg client'],
  [
    /node:(_tls|tls|net|stream|internal\/streams|internal\/stream_base|_http|http|internal\/http)/,
    'Node TLS, net, HTTP',
  ],
  [/\/src\//, 'hub code (src/)'],
];

function layerOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8/native (program)';
  for (const [re, name] of layers) if (re.test(url)) return name;
  if (url === '' && /^(all|run|get|iterate|prepare|exec)$/.test(functionName)) return 'SQLite (node:sqlite)';
  if (url === '') return 'native (other)';
  if (url.startsWith('node:')) return 'Node (other)';
  return 'other';
}

function keyOf(frame: ProfileNode['callFrame']): string {
  const where = frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : 'native';
  return `${frame.functionName || '(anonymous)'} ${where}`;
}

export function summarize(p: Profile, opts: { top?: number; from?: number; to?: number } = {}): string {
  const top = opts.top ?? 25;
  const from = (opts.from ?? 0) * 1e6;
  const to = (opts.to ?? Number.POSITIVE_INFINITY) * 1e6;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const layer = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let clock = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    clock += dt;
    if (clock < from || clock > to) return;
    const node = byId.get(id)!;
    total += dt;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    const k = keyOf(node.callFrame);
    self.set(k, (self.get(k) ?? 0) + dt);
    const l = layerOf(node.callFrame);
    layer.set(l, (layer.get(l) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(byId.get(at)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  });
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1)} %`;
  const rows = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `| ${k.replace(/\|/g, '\\|')} | ${pct(us)} | ${(us / 1000).toFixed(0)} ms |`)
      .join('\n');
  return [
    `profile: ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)} %)`,
    '',
    '| layer (self time) | share of busy | time |\n|---|---|---|',
    rows(layer, 20),
    '',
    '| function (self time) | share of busy | time |\n|---|---|---|',
    rows(self, top),
    '',
    '| function (inclusive) | share of busy | time |\n|---|---|---|',
    rows(inclusive, top),
  ].join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string' } },
  });
  const file = positionals[0];
  if (!file)
    throw new Error('usage: node bench/cpu-profile.ts FILE.cpuprofile [--from S] [--to S] [--top N]');
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  console.log(summarize(profile, { top: num(values.top), from: num(values.from), to: num(values.to) }));
}
