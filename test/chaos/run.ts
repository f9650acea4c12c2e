// The chaos command: runs every scenario in test/chaos/ (real processes killed at the worst moment),
// one at a time, then writes their figures into docs/reliability.md and bench/results.json (chaos-*).
// Usage: node test/chaos/run.ts [scenario-file…]   (KUBEBUILDER_ASSETS is found or built as tests do)
// *.test.ts scenarios are cheap enough for the normal test run too; *.chaos.ts ones run only here.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { machineName } from '../../bench/machine.ts';
import { appendResults, type BenchFigure } from '../../bench/results.ts';
import { cell, writeReliabilitySection } from '../support/reliability-doc.ts';
import type { ChaosResult } from './support.ts';

const root = resolve(import.meta.dirname, '../..');
const files =
  process.argv.length > 2
    ? process.argv.slice(2)
    : (await readdir(import.meta.dirname))
        .filter((f) => f.endsWith('.test.ts') || f.endsWith('.chaos.ts'))
        .map((f) => join(import.meta.dirname, f));
process.env.KUBEBUILDER_ASSETS ??= execFileSync('bash', [join(root, 'scripts/k8s-fixture.sh')], {
  encoding: 'utf8',
}).trim();
process.env.OUTPOST_TEST_POSTGRES ??= execFileSync('bash', [join(root, 'scripts/postgres-fixture.sh')], {
  encoding: 'utf8',
}).trim();

const dir = await mkdtemp(join(tmpdir(), 'outpost-chaos-'));
const resultsFile = join(dir, 'results.jsonl');
const started = new Date();
const outcome = new Map<string, boolean>();
for (const file of files) {
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', file], {
    stdio: 'inherit',
    env: { ...process.env, OUTPOST_CHAOS_RESULTS: resultsFile },
  });
  outcome.set(file, run.status === 0);
}
const results = (await readFile(resultsFile, 'utf8').catch(() => ''))
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as ChaosResult);
await rm(dir, { recursive: true, force: true });

const meets = (f: BenchFigure) =>
  f.op === undefined ||
  f.target === undefined ||
  { '<': f.value < f.target, '<=': f.value <= f.target, '>': f.value > f.target, '>=': f.value >= f.target }[
    f.op
  ];
const shown = (f: BenchFigure) =>
  `${f.name} **${f.value.toLocaleString('en')}** ${f.unit}${f.op ? ` (want ${f.op} ${f.target})` : ''}`;
const passed = [...outcome.values()].filter(Boolean).length;
const table = [
  `Run of \`node test/chaos/run.ts\` started ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineName()}; load average at the end ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(
      ', ',
    )} (the machine is shared: times are slow, counts are what matter). ${passed} of ${outcome.size} scenario files passed.`,
  '',
  '| scenario | runs | what was killed and what was checked | figures | result |',
  '|---|---:|---|---|---|',
  ...results.map((r) => {
    const ok = r.figures.every(meets);
    return `| ${r.scenario} | 1 | ${cell(r.checked)} | ${r.figures.map((f) => cell(shown(f))).join('<br>')} | ${ok ? 'pass' : '**FAIL**'} |`;
  }),
  ...[...outcome]
    .filter(([, ok]) => !ok)
    .map(
      ([file]) => `| ${file.replace(`${root}/`, '')} | 1 | the test failed; see its output | | **FAIL** |`,
    ),
].join('\n');
console.log(`\n${table}`);
await writeReliabilitySection('chaos', table);
await appendResults(
  results.flatMap((r) => r.figures.map((f) => ({ ...f, name: `chaos-${r.scenario}-${f.name}` }))),
);
process.exitCode = passed === outcome.size ? 0 : 1;
