// The chaos command: runs every scenario in test/chaos/ (real processes killed at the worst moment),
// one at a time, then writes their figures into docs/reliability.md and bench/results.json (chaos-*).
// Usage: node test/chaos/run.ts [NAME…]   (a scenario file, with or without .test.ts/.chaos.ts; the
// fixtures are found or built as the tests do)
// *.test.ts scenarios are cheap enough for the normal test run too; *.chaos.ts ones run only here.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { machineName } from '../../bench/machine.ts';
import { appendResults, type BenchFigure } from '../../bench/results.ts';
import { type ChaosRow, chaosTable, parseChaosRows } from '../support/chaos-table.ts';
import { cell, readReliabilitySection, writeReliabilitySection } from '../support/reliability-doc.ts';
import type { ChaosResult } from './support.ts';

/** a scenario file stuck past this is stopped, so the whole command stays bounded; above the longest
 * scenario's own test timeout (partition at 60×: 24 simulated hours in 24 real minutes, 30 min timeout) */
const fileTimeoutMs = 35 * 60_000;

const root = resolve(import.meta.dirname, '../..');
const scenarioFiles = (await readdir(import.meta.dirname))
  .filter((f) => f.endsWith('.test.ts') || f.endsWith('.chaos.ts'))
  .sort();
/** a scenario file named by its path, its file name, or its name without `.test.ts` / `.chaos.ts` */
const fileNamed = (name: string): string => {
  const found = scenarioFiles.find(
    (f) => f === basename(name) || f === `${name}.test.ts` || f === `${name}.chaos.ts`,
  );
  if (!found) throw new Error(`no chaos scenario named ${name}; there are: ${scenarioFiles.join(', ')}`);
  return found;
};
const files = process.argv.length > 2 ? process.argv.slice(2).map(fileNamed) : scenarioFiles;
process.env.KUBEBUILDER_ASSETS ??= execFileSync('bash', [join(root, 'scripts/k8s-fixture.sh')], {
  encoding: 'utf8',
}).trim();
process.env.OUTPOST_TEST_POSTGRES ??= execFileSync('bash', [join(root, 'scripts/postgres-fixture.sh')], {
  encoding: 'utf8',
}).trim();
process.env.OUTPOST_FAKETIME ??= execFileSync(
  'bash',
  [join(root, 'scripts/debian-tool-fixture.sh'), 'faketime'],
  { encoding: 'utf8' },
).trim();

const meets = (f: BenchFigure) =>
  f.op === undefined ||
  f.target === undefined ||
  { '<': f.value < f.target, '<=': f.value <= f.target, '>': f.value > f.target, '>=': f.value >= f.target }[
    f.op
  ];
const shown = (f: BenchFigure) =>
  `${f.name} **${f.value.toLocaleString('en')}** ${f.unit}${f.op ? ` (want ${f.op} ${f.target})` : ''}`;
const utcMinute = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const dir = await mkdtemp(join(tmpdir(), 'outpost-chaos-'));
const started = new Date();
const fresh: ChaosRow[] = [];
const figures: BenchFigure[] = [];
let passed = 0;
for (const file of files) {
  const resultsFile = join(dir, `${file}.jsonl`);
  const t0 = performance.now();
  const run = spawnSync(
    process.execPath,
    ['--test', '--test-reporter=spec', join(import.meta.dirname, file)],
    {
      stdio: 'inherit',
      env: { ...process.env, OUTPOST_CHAOS_RESULTS: resultsFile },
      timeout: fileTimeoutMs,
    },
  );
  const seconds = Math.round((performance.now() - t0) / 1000);
  const ran = `${utcMinute(new Date())}, ${seconds} s, load ${os.loadavg()[0]!.toFixed(1)}`;
  const results = (await readFile(resultsFile, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ChaosResult);
  const ok = run.status === 0;
  if (ok) passed++;
  for (const r of results) {
    const held = r.figures.every(meets);
    fresh.push({
      file,
      scenario: r.scenario,
      line: `| ${r.scenario} | ${file} | 1 | ${cell(r.checked)} | ${r.figures.map((f) => cell(shown(f))).join('<br>')} | ${held && ok ? 'pass' : '**FAIL**'} | ${ran} |`,
    });
    figures.push(...r.figures.map((f) => ({ ...f, name: `chaos-${r.scenario}-${f.name}` })));
  }
  if (!ok)
    fresh.push({
      file,
      scenario: file.replace(/\.(test|chaos)\.ts$/, ''),
      line: `| ${file.replace(/\.(test|chaos)\.ts$/, '')} | ${file} | 1 | the test failed${run.error ? ` (${run.error.message})` : ''}; see its output | | **FAIL** | ${ran} |`,
    });
}
await rm(dir, { recursive: true, force: true });

const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(0);
const previous = parseChaosRows(await readReliabilitySection('chaos'));
const table = [
  `Written by \`npm run chaos\` (every scenario file, one after another; \`npm run chaos -- NAME\` runs one file and replaces only its rows). Each row says when its file last ran, how long it took and the load average of this shared machine then (times are slow under load; the counts are what matter). The last run, started ${utcMinute(started)} on ${machineName()}, ran ${files.length === scenarioFiles.length ? 'every scenario file' : `${files.length} scenario file${files.length === 1 ? '' : 's'}`} (${passed} of ${files.length} passed) in ${minutes} min.`,
  '',
  chaosTable(previous, new Set(files), fresh),
].join('\n');
console.log(`\n${table}`);
await writeReliabilitySection('chaos', table);
await appendResults(figures);
process.exitCode = passed === files.length ? 0 : 1;
